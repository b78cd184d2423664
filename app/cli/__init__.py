"""The `lectern` command line (`main`) and its HTTP-client commands (`ingest`, `ask`, `extract`)."""

from app.cli.main import main

__all__ = ["main"]
