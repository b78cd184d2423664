"""A loopback listening socket for servers the tests run in a thread.

Made with `IPPROTO_TCP` named, not `socket.socket()`'s protocol 0: asyncio sets TCP_NODELAY
only on connections whose socket says it is TCP, and without it every keep-alive response
waited ~40 ms on delayed ACKs (measured 44 ms against 0.4 ms per request).
"""

from __future__ import annotations

import socket


def loopback_socket() -> socket.socket:
    """A TCP socket bound to 127.0.0.1 on a free port (not yet listening)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock
