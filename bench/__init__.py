"""Benchmarks of lectern, each a script run from the repository root as `python -m bench.<name>`.

- `bench.ingest`: ingestion throughput (pages/min) for digital and scanned PDFs against their
  raw engines (the embedder, the Tesseract CLI);
- `bench.retrieval`: retrieval quality on BEIR SciFact (nDCG@10, recall@100 per search mode)
  and the `min_score` calibration;
- `bench.query`: query-side latency: search at 100k chunks, overhead to first token, 200
  concurrent streams (also through `lectern serve --workers N`);
- `bench.extract`: receipt extraction on SROIE, scored per field;
- `bench.ocr`: OCR quality (character error rate, key fields found) on SROIE and its cost;
- `bench.sample_corpus`: every real document of `pdf-samples` and FinanceBench through the
  job path, and how each one ended (ready, or which content error).

The other modules are their shared parts. Every script prints its figures and writes them as
JSON to `bench/results/<name>.json`.
"""
