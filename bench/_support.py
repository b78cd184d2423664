"""Helpers for the ingest, query and extraction benchmarks (the shared ones are in `common`).

- `machine_load()`: the load average and CPU count, printed and stored with every figure, since
  these benchmarks run on small shared machines where absolute numbers mean little;
- `percentile`, `ratio_summary`: statistics over repeated, interleaved measurements;
- `CpuMeter`: CPU seconds spent by this process and its descendants (Tesseract children
  included), a cost measure much less sensitive to other load than wall time;
- `synthetic_report` / `scanned_copy`: a deterministic multi-page digital PDF with headings,
  paragraphs and tables, and the same pages as an image-only "scan" (tilted, noisy, JPEG),
  built with the drawing helpers of `scripts/make_samples.py`;
- `bench.query`'s synthetic 100k-chunk corpus (`Corpus`, `ensure_corpus`), its child processes
  (`start_child`/`stop_child`), the `/v1/ask` SSE client (`ask_stream`), provider baselines
  and event-loop lag statistics.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import io
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import psutil
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.common import REPO_ROOT, shared_data_dir

# --------------------------------------------------------------------------- the machine


def machine_load() -> dict[str, Any]:
    """Load averages (1, 5, 15 min) and usable CPUs, for the record next to every figure."""
    one, five, fifteen = os.getloadavg()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"load_1m": round(one, 2), "load_5m": round(five, 2), "load_15m": round(fifteen, 2),
            "cpus": cpus}


def load_line() -> str:
    """`load average 3.1 / 2.9 / 2.5 on 2 CPUs`, for printed output."""
    m = machine_load()
    return f"load average {m['load_1m']} / {m['load_5m']} / {m['load_15m']} on {m['cpus']} CPUs"


class CpuMeter:
    """CPU seconds (user + system) used by this process and all its live and reaped descendants.

    A child's time is counted while it runs (through psutil) and after it is reaped (through the
    `children_*` fields), so pool workers and the Tesseract processes they start are both seen.
    Take `read()` before and after a run and subtract.
    """

    def __init__(self) -> None:
        self._me = psutil.Process()

    def read(self) -> float:
        """Total CPU seconds so far."""
        total = _cpu(self._me)
        for child in self._me.children(recursive=True):
            try:
                total += _cpu(child)  # live descendants are each listed; reaped ones are
            except psutil.Error:  # in their parent's children_* fields, counted once
                continue
        return total


def _cpu(process: psutil.Process) -> float:
    t = process.cpu_times()
    return float(t.user + t.system + t.children_user + t.children_system)


def code_versions(*paths: str) -> dict[str, Any]:
    """The git commit and each file's content hash: the tree changes while benchmarks run,
    so results say exactly which code they measured (`dirty` = differs from the commit)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=False)
        return done.stdout.strip()

    dirty = set(git("status", "--porcelain", "--", *paths).splitlines())
    files = {}
    for path in paths:
        data = (REPO_ROOT / path).read_bytes() if (REPO_ROOT / path).exists() else b""
        files[path] = {"sha256": hashlib.sha256(data).hexdigest()[:12],
                       "dirty": any(line.endswith(path) for line in dirty)}
    return {"commit": git("rev-parse", "--short", "HEAD"), "files": files}


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0–100) with linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio_summary(ratios: Sequence[float]) -> dict[str, float]:
    """Median, min and max of per-round ratios (each round measured both sides back to back)."""
    return {"median": round(statistics.median(ratios), 3), "min": round(min(ratios), 3),
            "max": round(max(ratios), 3), "rounds": len(ratios)}


@dataclass
class Timer:
    """Wall seconds and CPU seconds of one block (see `timed`)."""

    wall: float = 0.0
    cpu: float = 0.0


class timed:
    """`with timed(meter) as t: ...` → `t.wall`, `t.cpu` (CPU of this process tree)."""

    def __init__(self, meter: CpuMeter | None = None) -> None:
        self.meter = meter or CpuMeter()
        self.result = Timer()

    def __enter__(self) -> Timer:
        self._cpu0 = self.meter.read()
        self._wall0 = time.perf_counter()
        return self.result

    def __exit__(self, *exc: object) -> None:
        self.result.wall = time.perf_counter() - self._wall0
        self.result.cpu = self.meter.read() - self._cpu0


# --------------------------------------------------------------------------- documents


@cache
def make_samples() -> ModuleType:
    """`scripts/make_samples.py` as a module (its drawing helpers; nothing is written)."""
    path = REPO_ROOT / "scripts" / "make_samples.py"
    spec = importlib.util.spec_from_file_location("lectern_make_samples", path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file is in the repo
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_TOPICS = ["Revenue", "Operating costs", "Staff", "Logistics", "Customers", "Stores", "Online",
           "Suppliers", "Risks", "Investments", "Energy", "Training", "Pricing", "Inventory"]
_SUBJECTS = ["The company", "The board", "The northern region", "Our online shop",
             "The finance office", "Each store manager", "The logistics team",
             "The new warehouse", "The loyalty programme", "The audit committee"]
_VERBS = ["reported", "expected", "measured", "reviewed", "approved", "reduced", "increased",
          "planned", "compared", "recorded"]
_OBJECTS = ["sales of outdoor clothing", "the cost of freight from Asia", "staff turnover",
            "the number of active members", "energy use in the warehouses", "stock levels",
            "returns from online orders", "the gross margin on winter jackets",
            "spending on delivery vans", "the average basket size"]
_TAILS = ["compared with the previous year", "in the second half of the year",
          "after the pay review in April", "across all regions", "in every quarter but one",
          "because of the new distribution centre", "as the plan assumed",
          "despite a cold spring", "for the third year in a row", "within the agreed budget"]


def _sentence(rng: random.Random) -> str:
    number = rng.choice([f"{rng.randint(2, 98)}%", f"${rng.randint(1, 60)}.{rng.randint(0, 9)} "
                         "million", f"{rng.randint(100, 9999):,} units"])
    return (f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} at {number} "
            f"{rng.choice(_TAILS)}.")


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _page_blocks(rng: random.Random, number: int) -> list[tuple[str, str | list[list[str]]]]:
    """One page: a numbered section, two subsections, paragraphs, and on every third a table."""
    topic = _TOPICS[number % len(_TOPICS)]
    blocks: list[tuple[str, str | list[list[str]]]] = [("h1", f"{number} {topic}"),
                                                       ("p", _paragraph(rng, 5))]
    for sub in (1, 2):
        blocks.append(("h2", f"{number}.{sub} {rng.choice(_TOPICS)} and {rng.choice(_TOPICS)}"))
        blocks.append(("p", _paragraph(rng, 5)))
        if sub == 1 and number % 3 == 0:
            rows = [["Region", "Q1", "Q2", "Q3", "Q4"]]
            rows += [[name, *(f"{rng.uniform(1, 9):.1f}" for _ in range(4))]
                     for name in ("North", "South", "Online")]
            blocks.append(("table", rows))
        else:
            blocks.append(("p", _paragraph(rng, 4)))
    return blocks


def synthetic_report(pages: int, seed: int = 2024) -> tuple[bytes, list[str]]:
    """A digital report of `pages` pages and the text of each page (as drawn).

    Letter pages in the style of `samples/digital-report.pdf`: a numbered heading per page,
    two subsections, about 350 words, a table on every third page, a footer. Deterministic.
    """
    ms = make_samples()
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    rng = random.Random(seed)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=letter, invariant=1)
    texts: list[str] = []
    for number in range(1, pages + 1):
        y = letter[1] - ms.MARGIN
        lines: list[str] = []
        for style, content in _page_blocks(rng, number):
            font, size, before, height = ms.STYLES[style]
            y -= before
            canvas.setFont(font, size)
            if isinstance(content, list):
                for row in content:
                    y -= height
                    for x, cell in zip(ms.TABLE_COLUMNS, row, strict=True):
                        canvas.drawString(ms.MARGIN + x, y, cell)
                    lines.append(" ".join(row))
                continue
            for drawn in ms.wrap(content, font, size, ms.TEXT_WIDTH):
                y -= height
                if y < ms.MARGIN:
                    break
                canvas.drawString(ms.MARGIN, y, drawn)
                lines.append(drawn)
        footer = f"Page {number} of {pages}"
        canvas.setFont("Helvetica", 9)
        canvas.drawCentredString(letter[0] / 2, ms.MARGIN / 2, footer)
        lines.append(footer)
        texts.append("\n".join(lines))
        canvas.showPage()
    canvas.save()
    return buffer.getvalue(), texts


def scanned_copy(pdf: bytes, *, dpi: int = 200, seed: int = 7) -> bytes:
    """The same pages as an image-only PDF: rendered, tilted ±1.6°, noisy, JPEG at `dpi`."""
    import pypdfium2 as pdfium

    ms = make_samples()
    rng = random.Random(seed)
    document = pdfium.PdfDocument(pdf)
    try:
        images = [page.render(scale=dpi / 72).to_pil().convert("L") for page in document]
    finally:
        document.close()
    scans = [ms.degrade(img, rng.uniform(-1.6, 1.6), seed=seed + i)
             for i, img in enumerate(images)]
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"lectern-bench-scan-{os.getpid()}.pdf"
    try:
        ms.write_scanned_pdf(out, scans, dpi)
        return out.read_bytes()
    finally:
        out.unlink(missing_ok=True)


# --------------------------------------------------------------------------- text


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --------------------------------------------------------------------------- query corpus
# The synthetic corpus of `bench.query` (see its docstring): SciFact sentences as texts,
# random unit vectors around topic centroids, loaded by binary COPY, cached by fingerprint.

TENANT = "default"  # the tenant of requests while no API key exists: the app searches it
DIM = 384
CENTROIDS = 500
SPREAD = 1.0  # noise norm relative to the centroid: cosine(chunk, centroid) ≈ 1/√2
CHUNKS_PER_DOC = 100
RARE_COLLECTION = "rare"


@dataclass(frozen=True)
class Corpus:
    """The cached corpus's shape: size, seed, and the topic centroids queries are drawn from."""

    chunks: int
    seed: int
    centroids: np.ndarray[Any, np.dtype[np.float32]]

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"v1:{self.chunks}:{self.seed}:{CENTROIDS}:{SPREAD}".encode()
                              ).hexdigest()[:16]

    def vectors(self, rng: np.random.Generator, topics: np.ndarray[Any, Any]
                ) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Unit vectors around the given topics' centroids."""
        noise = rng.standard_normal((len(topics), DIM)).astype(np.float32)
        noise *= SPREAD / np.sqrt(DIM)
        raw = self.centroids[topics] + noise
        out: np.ndarray[Any, np.dtype[np.float32]] = raw / np.linalg.norm(raw, axis=1,
                                                                          keepdims=True)
        return out


def make_corpus(chunks: int, seed: int) -> Corpus:
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((CENTROIDS, DIM)).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    return Corpus(chunks, seed, centroids)


def scifact_sentences() -> list[str]:
    """Sentences of the SciFact abstracts (falls back to generated text without the data)."""
    path = shared_data_dir() / "beir-scifact" / "corpus.jsonl"
    if not path.exists():
        words = ["cell", "protein", "gene", "risk", "patients", "study", "effect", "level",
                 "increase", "blood"]
        rng = random.Random(1)
        return [" ".join(rng.choices(words, k=20)) + "." for _ in range(20_000)]
    sentences: list[str] = []
    with path.open() as lines:
        for line in lines:
            row = json.loads(line)
            sentences += [s.strip() + "." for s in row["text"].split(". ") if len(s) > 20]
    return sentences


def questions() -> list[str]:
    """SciFact claims as questions (real wording for the text index and the embedder)."""
    path = shared_data_dir() / "beir-scifact" / "queries.jsonl"
    if not path.exists():
        return [f"What is known about protein {n} in blood cells?" for n in range(2000)]
    with path.open() as lines:
        return [json.loads(line)["text"] for line in lines]


def ensure_corpus(engine: Engine, corpus: Corpus, *, rebuild: bool = False) -> bool:
    """Load the corpus unless the database already holds this exact one; True if (re)built."""
    with engine.connect() as conn:
        have = conn.execute(text(
            "SELECT count(*) FROM documents WHERE tenant_id = :t AND metadata->>'bench' = :f"
        ), {"t": TENANT, "f": corpus.fingerprint}).scalar_one()
    if have == corpus.chunks // CHUNKS_PER_DOC and not rebuild:
        return False
    started = time.perf_counter()
    print(f"  building a {corpus.chunks:,}-chunk corpus (cached for the next runs) ...",
          flush=True)
    _load(engine, corpus)
    print(f"  corpus built in {time.perf_counter() - started:.0f}s", flush=True)
    return True


def _load(engine: Engine, corpus: Corpus) -> None:
    from pgvector.psycopg import register_vector

    sentences = scifact_sentences()
    rng = np.random.default_rng(corpus.seed + 1)
    docs = corpus.chunks // CHUNKS_PER_DOC
    rare_docs = max(1, docs // 100)
    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        register_vector(conn)
        cur = conn.cursor()
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("DELETE FROM documents WHERE tenant_id = %s", (TENANT,))
        index_defs = [row[0] for row in cur.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'chunks' AND indexname IN "
            "('ix_chunks_embedding_hnsw', 'ix_chunks_tsv')").fetchall()]
        cur.execute("DROP INDEX IF EXISTS ix_chunks_embedding_hnsw")
        cur.execute("DROP INDEX IF EXISTS ix_chunks_tsv")
        doc_ids = [uuid.uuid4() for _ in range(docs)]
        with cur.copy("COPY documents (id, tenant_id, collection, filename, kind, content_type, "
                      "sha256, size_bytes, metadata, status, page_count, chunk_count) "
                      "FROM STDIN") as copy:
            for n, doc_id in enumerate(doc_ids):
                collection = RARE_COLLECTION if n < rare_docs else "main"
                meta = json.dumps({"bench": corpus.fingerprint, "n": n})
                copy.write_row((doc_id, TENANT, collection, f"doc-{n:05d}.pdf", "pdf",
                                "application/pdf", hashlib.sha256(doc_id.bytes).hexdigest(),
                                1000, meta, "ready", 10, CHUNKS_PER_DOC))
        columns = ("document_id, tenant_id, collection, ordinal, text, section, section_path, "
                   "page_start, page_end, char_start, char_end, token_count, content_hash, "
                   "embedding")
        with cur.copy(f"COPY chunks ({columns}) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["uuid", "text", "text", "int4", "text", "text", "text[]", "int4",
                            "int4", "int4", "int4", "int4", "text", "vector"])
            for n, doc_id in enumerate(doc_ids):
                collection = RARE_COLLECTION if n < rare_docs else "main"
                topics = rng.integers(0, CENTROIDS, size=CHUNKS_PER_DOC)
                vectors = corpus.vectors(rng, topics)
                for i in range(CHUNKS_PER_DOC):
                    start = (n * CHUNKS_PER_DOC + i) * 3 % (len(sentences) - 4)
                    body = " ".join(sentences[start : start + 3])
                    section = f"Section {i // 10 + 1}"
                    copy.write_row((doc_id, TENANT, collection, i, body, section, [section],
                                    i // 10 + 1, i // 10 + 1, 0, len(body), len(body) // 4,
                                    hashlib.sha256(body.encode()).hexdigest(), vectors[i]))
        conn.commit()
        print("  rows loaded; building the HNSW and GIN indexes ...", flush=True)
        for definition in index_defs:
            cur.execute(definition)
        cur.execute("ANALYZE documents")
        cur.execute("ANALYZE chunks")
        conn.commit()
    finally:
        raw.close()


# --------------------------------------------------------------------------- loopback servers
# Child processes of `bench.query` (`python -m bench.query serve|scripted ...`), the SSE client
# of `/v1/ask`, and event-loop lag statistics.

STALL_S = 0.05


def start_child(args: list[str], port_file: Path, timeout: float = 300.0
                ) -> tuple[subprocess.Popen[bytes], int]:
    """Start `python -m bench.query <args>` and wait for it to write its port."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, "-m", "bench.query", *args], cwd=REPO_ROOT, env=env)
    wait_ready(child, lambda: port_file.exists() and bool(port_file.read_text().strip()),
               timeout=timeout, stop=stop_child, what=f"child {args[0]}", interval=0.1)
    return child, int(port_file.read_text())


def wait_ready(child: subprocess.Popen[bytes], ready: Callable[[], bool], *, timeout: float,
               stop: Callable[[subprocess.Popen[bytes]], None], what: str,
               interval: float = 0.5) -> None:
    """Poll `ready()` until true; RuntimeError if `child` exits first or (after `stop`ping
    it) when `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not ready():
        if child.poll() is not None:
            raise RuntimeError(f"{what} exited with {child.returncode}")
        if time.monotonic() > deadline:
            stop(child)
            raise RuntimeError(f"{what} did not start within {timeout:.0f}s")
        time.sleep(interval)


def stop_child(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 30 s (this benchmark's own child only)."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)


@dataclass
class Stream:
    """One `/v1/ask` SSE stream as the client saw it."""

    status: int = 0
    ttft: float | None = None
    duration: float = 0.0
    tokens: int = 0
    events: int = 0
    done: bool = False
    error: str | None = None
    server_ttft_ms: int | None = None
    retrieval_ms: int | None = None


async def ask_stream(client: Any, question: str, top_k: int) -> Stream:
    """POST /v1/ask as SSE and read it to the end."""
    from httpx_sse import aconnect_sse

    out = Stream()
    started = time.perf_counter()
    body = {"question": question, "min_score": -1.0, "top_k": top_k, "mode": "hybrid"}
    try:
        async with aconnect_sse(client, "POST", "/v1/ask", json=body,
                                headers={"Accept": "text/event-stream"}) as source:
            out.status = source.response.status_code
            if out.status != 200:
                await source.response.aread()
                out.error = f"HTTP {out.status}: {source.response.text[:200]}"
                return out
            async for sse in source.aiter_sse():
                out.events += 1
                if sse.event == "token":
                    out.tokens += 1
                    if out.ttft is None:
                        out.ttft = time.perf_counter() - started
                elif sse.event == "usage":
                    usage = json.loads(sse.data)
                    out.server_ttft_ms = usage.get("ttft_ms")
                    out.retrieval_ms = usage.get("retrieval_ms")
                elif sse.event == "done":
                    out.done = True
                elif sse.event == "error":
                    out.error = f"error event: {sse.data[:200]}"
    except Exception as exc:
        out.error = f"{type(exc).__name__}: {exc}"
    out.duration = time.perf_counter() - started
    if out.error is None and not out.done:
        out.error = "stream ended without done"
    return out


def lag_summary(lags: Sequence[float]) -> dict[str, Any]:
    stalls = [x for x in lags if x > STALL_S]
    return {"ticks": len(lags), "p50_ms": round(percentile(lags, 50) * 1000, 2),
            "p99_ms": round(percentile(lags, 99) * 1000, 2),
            "max_ms": round(max(lags, default=0.0) * 1000, 1),
            "stalls_over_50ms": len(stalls), "stalled_s": round(sum(stalls), 2),
            "over_100ms": sum(x > 0.1 for x in lags), "over_250ms": sum(x > 0.25 for x in lags)}


async def raw_provider_ttft(samples: int, tokens: int) -> list[float]:
    """The zero-latency FakeProvider's own time to first token, called directly."""
    from pipelines.llm.providers.fake import FakeProvider
    from pipelines.llm.types import ChatRequest, Message

    reply = " ".join(f"word{n % 97}" for n in range(tokens))
    provider = FakeProvider("bench", default_reply=reply)
    request = ChatRequest(messages=(Message("user", "question"),), model="bench-model")
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        stream = provider.stream(request)
        await anext(stream)
        out.append(time.perf_counter() - started)
        await stream.aclose()  # type: ignore[attr-defined]  # an async generator in fact
    return out


async def direct_streams(base_url: str, n: int) -> list[Stream]:
    """The baseline: `n` concurrent streams straight from the scripted server (openai SDK)."""
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0, timeout=120.0)

    async def one(i: int) -> Stream:
        out = Stream()
        started = time.perf_counter()
        try:
            stream = await client.chat.completions.create(
                model="bench-model", stream=True,
                messages=[{"role": "user", "content": f"question {i}"}])
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    out.tokens += 1
                    if out.ttft is None:
                        out.ttft = time.perf_counter() - started
            out.done = True
        except Exception as exc:
            out.error = f"{type(exc).__name__}: {exc}"
        out.duration = time.perf_counter() - started
        return out

    try:
        return list(await asyncio.gather(*(one(i) for i in range(n))))
    finally:
        await client.close()
