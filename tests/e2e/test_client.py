"""`app.client.Lectern` against the shared e2e server over a socket: upload, wait, listings,
search, ask streaming and whole, extract, errors as `ClientError`; and the CLI finding the
server from `LECTERN_HOST`/`LECTERN_PORT` with the key from `LECTERN_API_KEY`."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.client import ClientError, Lectern
from tests.support.api import Server

REPO = Path(__file__).resolve().parents[2]
NOTE = (b"# Lighthouse keeping\n\nThe lighthouse keeper of Skerryvore logs the lamp's paraffin "
        b"use every evening. In 1902 the keeper burned 41 gallons of paraffin in January.\n")


def test_the_client_covers_the_api(server: Server) -> None:
    collection = f"client-{uuid.uuid4().hex[:8]}"
    with Lectern(server.url, server.keys["alpha"], timeout=60) as lectern:
        uploaded = lectern.upload(NOTE, filename="lighthouse.md", collection=collection,
                                  metadata={"topic": "lighthouses"})
        job = lectern.wait(uploaded["job"]["id"], timeout_s=120)
        assert job["status"] == "succeeded", job
        document_id = uploaded["document"]["id"]
        assert lectern.document(document_id)["status"] == "ready"
        assert lectern.documents(collection=collection)["total"] == 1
        assert any(j["id"] == job["id"] for j in lectern.jobs(document_id=document_id)["items"])
        assert any(c["name"] == collection for c in lectern.collections())
        assert {s["name"] for s in lectern.schemas()} >= {"receipt", "invoice"}

        hits = lectern.search("paraffin burned by the lighthouse keeper", collection=collection)
        assert hits["hits"] and hits["hits"][0]["document_id"] == document_id

        events = list(lectern.ask("How many gallons of paraffin did the keeper burn in 1902?",
                                  collection=collection))
        names = [e.name for e in events]
        assert names[0] == "meta" and names[-1] == "done" and "token" in names
        sources = next(e.data for e in events if e.name == "sources")
        assert sources[0]["filename"] == "lighthouse.md"
        text = "".join(e.data["text"] for e in events if e.name == "token")
        assert "41" in text
        whole = lectern.answer("How many gallons of paraffin did the keeper burn in 1902?",
                               collection=collection)
        assert "41" in whole["answer"] and whole["sources"]

        with pytest.raises(ClientError) as refused:
            lectern.ask("", collection=collection).__next__()
        assert (refused.value.status, refused.value.code) == (422, "validation_error")
        with pytest.raises(ClientError) as missing:
            lectern.document(str(uuid.uuid4()))
        assert missing.value.status == 404
        with pytest.raises(ClientError) as no_model:  # this server has no structured-output LLM
            lectern.extract("receipt", text="Corner Shop\nTOTAL 12.50 EUR")
        assert (no_model.value.status, no_model.value.code) == (503, "no_extractor")
        lectern.delete_document(document_id)
        assert lectern.documents(collection=collection)["total"] == 0

    with Lectern(server.url, "lk_wrong") as stranger, pytest.raises(ClientError) as denied:
        stranger.documents()
    assert (denied.value.status, denied.value.code) == (401, "unauthorized")


def test_the_cli_finds_the_server_by_host_and_port(server: Server) -> None:
    parts = urlsplit(server.url)
    env = {k: v for k, v in os.environ.items() if k != "LECTERN_URL"}
    env.update(LECTERN_HOST=str(parts.hostname), LECTERN_PORT=str(parts.port),
               LECTERN_API_KEY=server.keys["alpha"])
    command = [sys.executable, "-m", "app.cli.main", "ask", "paraffin keeper"]
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "an answer (or its 'insufficient evidence') was printed"
    env["LECTERN_API_KEY"] = "lk_wrong"  # the same server refuses another key
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1 and "unauthorized" in result.stderr, result.stderr
