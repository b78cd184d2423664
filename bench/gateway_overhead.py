"""What lectern's gateway adds to a chat completion: `/v1/chat/completions` vs the provider.

    .venv/bin/python -m bench.gateway_overhead                    # 300 rounds per mode
    .venv/bin/python -m bench.gateway_overhead --rounds 1000 --warmup 50
    .venv/bin/python -m bench.gateway_overhead --long-tokens 1000   # the per-token figures

Provider: the tests' scripted OpenAI-protocol server in a process of its own, replying at
once (`--tokens` word pieces), with TCP_NODELAY set on its listening socket (accepted
connections inherit it): the helper binds a socket made without a protocol number, on whose
connections asyncio sets no TCP_NODELAY, so each response waited ~40 ms for the client's
delayed ACK between its header and body writes (44 ms vs 0.4 ms per request here), an
artefact of the helper and no provider's latency. lectern: the real `lectern serve
--no-worker` (one process; its only model is that server, no task restriction, cache off, no
budget; auth required, with a key made for the run) on the benchmark database. Client: the
`openai` SDK here, one keep-alive client per side. Each round calls both sides back to back,
alternating which goes first, with the gateway model `bench-model`, whole and streamed (read
to `[DONE]`; time to first content too). Added = lectern minus direct per round: p50/p95 of
those, and of each side. Two pieces of lectern's path are also timed alone on the same
database: the ledger row (inserted and committed before the reply ends) and the key lookup.
The per-token path: a second scripted provider replies `--long-tokens` pieces (model
`bench-long`), streamed the same way; the long stream's added time and lectern's CPU seconds
per request (`psutil`, the serve process), less the short stream's, over the extra tokens, are
what each token costs lectern. `uptime` before and after. Results:
`bench/results/gateway_overhead.json`.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import openai
import psutil

from bench.common import REPO_ROOT, bench_database, format_table, write_results
from bench.machine import code_versions, load_line, machine_load
from bench.processes import free_port_file, stop_child, stop_serve, wait_ready
from bench.timing import percentile

DATABASE = "lectern_bench_gateway"
MODEL = "bench-model"
LONG_MODEL = "bench-long"
MESSAGES: list[Any] = [{"role": "system", "content": "You are terse."},
                       {"role": "user", "content": "Say hello in five words."}]
CODE_UNDER_TEST = ("app/routes/openai_chat.py", "app/openai_compat/chunks.py",
                   "app/openai_compat/sse.py", "app/openai_compat/errors.py",
                   "pipelines/chat/gateway.py", "pipelines/llm/router.py",
                   "pipelines/llm/completion.py", "pipelines/llm/streaming.py",
                   "app/middleware.py", "app/auth.py")
_CONFIG = """\
providers.bench = {{kind = "openai", base_url = "{base_url}", api_key = "k", timeout_s = 60}}
providers.bench_long = {{kind = "openai", base_url = "{long_url}", api_key = "k", timeout_s = 60}}
cache = {{enabled = false}}

[[models]]
id = "{model}"
provider = "bench"
tier = "mid"
price_in_per_mtok = 0.1
price_out_per_mtok = 0.2

[[models]]
id = "{long_model}"
provider = "bench_long"
tier = "mid"
price_in_per_mtok = 0.1
price_out_per_mtok = 0.2
"""


def serve_scripted(port_file: Path, tokens: int) -> None:
    """Child: the scripted OpenAI-protocol server replying `tokens` word pieces at once, with
    TCP_NODELAY (see the module docstring), until SIGTERM."""
    import signal

    from tests.support import scripted_openai as so

    server = so.ScriptedOpenAI(models=(MODEL, LONG_MODEL))
    server._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    server.default = so.text(" ".join(f"word{n}" for n in range(tokens)))
    server.start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    port_file.write_text(str(server.port))
    stopping.wait()
    server.stop()


def start_scripted(tmp: Path, tokens: int, name: str = "scripted"
                   ) -> tuple[subprocess.Popen[bytes], int]:
    """`python -m bench.gateway_overhead scripted` once it listens; its port."""
    port_file = free_port_file(tmp, name)
    child = subprocess.Popen([sys.executable, "-m", "bench.gateway_overhead", "scripted",
                              str(port_file), "--tokens", str(tokens)], cwd=REPO_ROOT)
    wait_ready(child, lambda: port_file.exists() and bool(port_file.read_text().strip()),
               timeout=60, stop=stop_child, what="scripted provider", interval=0.05)
    return child, int(port_file.read_text())


def uptime() -> str:
    """`uptime`'s line (load averages), as the record of how busy the machine was."""
    done = subprocess.run(["uptime"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def start_lectern(database_url: str, provider_url: str, long_url: str, tmp: Path
                  ) -> tuple[subprocess.Popen[bytes], str]:
    """`lectern serve --no-worker` with the scripted providers as its models; its base URL."""
    config = tmp / "gateway-llm.toml"
    config.write_text(_CONFIG.format(base_url=provider_url, model=MODEL, long_url=long_url,
                                     long_model=LONG_MODEL))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "LECTERN_DATABASE_URL": database_url, "LECTERN_CONFIG": str(config),
           "LECTERN_HOST": "127.0.0.1", "LECTERN_PORT": str(port), "LECTERN_LOG_LEVEL": "WARNING"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with (tmp / "serve.log").open("wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "app.cli.main", "serve", "--no-worker"],
                                 cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_ready(child, healthy, timeout=300, stop=stop_serve, what="lectern serve")
    return child, url


def parts(database_url: str, key: str, rounds: int) -> dict[str, Any]:
    """Two pieces of the path timed alone on the same database: a ledger row's insert and
    commit, as `Budget.settle` writes one (the router awaits it before the reply ends), and
    the auth gate's key lookup."""
    from sqlalchemy import text
    from sqlalchemy.orm import sessionmaker

    from app.auth import authenticate
    from app.db.engine import make_engine

    row = text("INSERT INTO llm_calls (request_id, tenant_id, task, provider, model, tier, "
               "prompt_version, outcome) VALUES ('bench-probe', 'bench', 'chat', 'bench', "
               f"'{MODEL}', 'mid', 'probe', 'ok')")
    engine = make_engine(database_url)
    sessions = sessionmaker(engine)

    def ledger_row() -> None:
        with engine.begin() as conn:
            conn.execute(row)

    try:
        timed: dict[str, list[float]] = {"ledger_row_ms": [], "key_lookup_ms": []}
        for _ in range(rounds):
            for name, step in (("ledger_row_ms", ledger_row),
                               ("key_lookup_ms", lambda: authenticate(sessions, None,
                                                                      f"Bearer {key}"))):
                started = time.perf_counter()
                step()
                timed[name].append((time.perf_counter() - started) * 1000)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM llm_calls WHERE request_id = 'bench-probe'"))
        return {name: stats(values) for name, values in timed.items()}
    finally:
        engine.dispose()


def create_key(database_url: str) -> str:
    """A fresh API key for tenant `bench` in the benchmark database."""
    from sqlalchemy.orm import Session

    from app.auth import create_key as make
    from app.db.engine import make_engine

    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return make(session, "bench", "gateway-overhead")
    finally:
        engine.dispose()


def whole(client: openai.OpenAI, model: str = MODEL) -> tuple[float, None]:
    """Seconds for one non-streamed completion."""
    started = time.perf_counter()
    reply = client.chat.completions.create(model=model, messages=MESSAGES, temperature=0)
    assert reply.choices[0].message.content
    return time.perf_counter() - started, None


def streamed(client: openai.OpenAI, model: str = MODEL) -> tuple[float, float | None]:
    """Seconds for one streamed completion read to its end, and to its first content."""
    started = time.perf_counter()
    first: float | None = None
    for chunk in client.chat.completions.create(model=model, messages=MESSAGES, temperature=0,
                                                stream=True):
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    return time.perf_counter() - started, first


Call = Callable[[openai.OpenAI], tuple[float, float | None]]


def measure(call: Call, direct: openai.OpenAI, gateway: openai.OpenAI, rounds: int,
            warmup: int, server: psutil.Process) -> dict[str, Any]:
    """`rounds` interleaved pairs of calls after `warmup` of each: figures in milliseconds,
    and lectern's CPU milliseconds per request (the serve process's, over the rounds)."""
    for _ in range(warmup):
        call(direct), call(gateway)
    cpu_before = sum(server.cpu_times()[:2])
    sides: dict[str, list[float]] = {"direct": [], "lectern": []}
    firsts: dict[str, list[float]] = {"direct": [], "lectern": []}
    for n in range(rounds):
        order = (("direct", direct), ("lectern", gateway))
        for side, client in order if n % 2 == 0 else order[::-1]:
            total, first = call(client)
            sides[side].append(total * 1000)
            if first is not None:
                firsts[side].append(first * 1000)
    cpu_ms = (sum(server.cpu_times()[:2]) - cpu_before) * 1000 / rounds
    added = [g - d for d, g in zip(sides["direct"], sides["lectern"], strict=True)]
    result = {"added_ms": stats(added), "direct_ms": stats(sides["direct"]),
              "lectern_ms": stats(sides["lectern"]), "server_cpu_ms_per_request": cpu_ms}
    if firsts["lectern"]:
        ttft = [g - d for d, g in zip(firsts["direct"], firsts["lectern"], strict=True)]
        result["added_ttft_ms"] = stats(ttft)
    return result


def stats(values: Sequence[float]) -> dict[str, float]:
    """p50, p95 and mean of `values` (ms), and how many there were."""
    return {"p50": round(percentile(values, 50), 3), "p95": round(percentile(values, 95), 3),
            "mean": round(sum(values) / len(values), 3), "n": len(values)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Both modes against one provider and one lectern: the results payload."""
    config = {k: v for k, v in vars(args).items() if k != "command"}
    results: dict[str, Any] = {"config": config, "uptime_start": uptime(),
                               "load_start": machine_load(),
                               "code": code_versions(*CODE_UNDER_TEST)}
    print(f"bench.gateway_overhead: {args.rounds} rounds per mode; {load_line()}", flush=True)
    with bench_database(DATABASE) as url, \
            tempfile.TemporaryDirectory(prefix="lectern-bench-gateway-") as tmp_name:
        tmp = Path(tmp_name)
        provider, port = start_scripted(tmp, args.tokens)
        long_provider, long_port = start_scripted(tmp, args.long_tokens, "scripted-long")
        lectern: subprocess.Popen[bytes] | None = None
        try:
            lectern, lectern_url = start_lectern(url, f"http://127.0.0.1:{port}/v1",
                                                 f"http://127.0.0.1:{long_port}/v1", tmp)
            server = psutil.Process(lectern.pid)
            direct, direct_long = (
                openai.OpenAI(base_url=f"http://127.0.0.1:{p}/v1", api_key="k", max_retries=0)
                for p in (port, long_port))
            key = create_key(url)
            gateway = openai.OpenAI(base_url=f"{lectern_url}/v1", api_key=key, max_retries=0)
            long_rounds = max(40, args.rounds * args.tokens // args.long_tokens)
            for name, call, to, rounds in (
                    ("whole", whole, direct, args.rounds),
                    ("stream", streamed, direct, args.rounds),
                    ("stream_long", partial(streamed, model=LONG_MODEL), direct_long,
                     long_rounds)):
                results[name] = measure(call, to, gateway, rounds, args.warmup, server)
                results[name]["load"] = machine_load()
            results["per_token"] = per_token(results["stream"], results["stream_long"],
                                             args.long_tokens - args.tokens)
            results["parts"] = parts(url, key, args.rounds)
        finally:
            if lectern is not None:
                stop_serve(lectern)
            stop_child(provider)
            stop_child(long_provider)
    results["uptime_end"] = uptime()
    results["load_end"] = machine_load()
    return results


def per_token(short: dict[str, Any], long: dict[str, Any], extra_tokens: int
              ) -> dict[str, float]:
    """What each token of a stream costs lectern, in microseconds: the long stream's added
    time (p50) and server CPU per request, less the short stream's, over the extra tokens."""
    added = float(long["added_ms"]["p50"]) - float(short["added_ms"]["p50"])
    cpu = long["server_cpu_ms_per_request"] - short["server_cpu_ms_per_request"]
    return {"added_us": round(added * 1000 / extra_tokens, 2),
            "server_cpu_us": round(cpu * 1000 / extra_tokens, 2)}


def report(results: dict[str, Any]) -> str:
    """The figures as a table, with the load before and after."""
    rows = []
    for mode in ("whole", "stream", "stream_long"):
        r = results[mode]
        rows.append([mode, r["added_ms"]["p50"], r["added_ms"]["p95"], r["direct_ms"]["p50"],
                     r["lectern_ms"]["p50"], r["lectern_ms"]["p95"],
                     round(r["server_cpu_ms_per_request"], 3)])
        if "added_ttft_ms" in r:
            rows.append([f"{mode} (first token)", r["added_ttft_ms"]["p50"],
                         r["added_ttft_ms"]["p95"], "", "", "", ""])
    table = format_table(["mode", "added p50 ms", "added p95 ms", "direct p50 ms",
                          "lectern p50 ms", "lectern p95 ms", "lectern CPU ms"], rows)
    pieces = ", ".join(f"{name.removesuffix('_ms').replace('_', ' ')} p50 {v['p50']} / p95 "
                       f"{v['p95']} ms" for name, v in results["parts"].items())
    token = results["per_token"]
    return (f"{table}\nper token of a stream: added {token['added_us']} µs, lectern CPU "
            f"{token['server_cpu_us']} µs\nalone: {pieces}\nbefore: {results['uptime_start']}\n"
            f"after:  {results['uptime_end']}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write `bench/results/gateway_overhead.json`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=300, help="measured pairs per mode")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured pairs first")
    parser.add_argument("--tokens", type=int, default=8, help="word pieces per reply")
    parser.add_argument("--long-tokens", type=int, default=400,
                        help="word pieces per reply of the long stream (per-token figures)")
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("scripted", help="(internal) the scripted provider child")
    child.add_argument("port_file", type=Path)
    child.add_argument("--tokens", type=int, default=8)
    args = parser.parse_args(argv)
    if args.command == "scripted":
        serve_scripted(args.port_file, args.tokens)
        return 0
    results = run(args)
    print(report(results))
    print(f"results: {write_results('gateway_overhead', results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
