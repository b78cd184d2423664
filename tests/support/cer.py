"""Character error rate (CER) of a text against its reference: the one implementation, used by
the OCR and extraction tests and by the benchmarks (`bench.ocr`, `bench.extract`).

`char_error_rate(reference, hypothesis)`: the Levenshtein distance between the normalised
texts over the normalised reference's length, so 0.0 is perfect and values above 1.0 are
possible when the hypothesis is much longer than the reference. The reference comes first
and sets the denominator. It lives here, with no dependency beyond rapidfuzz, so the tests
need nothing of `bench` and the benchmarks (which already use `tests.support`) share it.

Two normalisations: `normalize` (the default, the usual one for OCR evaluations: runs of
spaces collapse to one, lines are stripped, blank lines dropped, typographic quotes and dashes
folded to ASCII) and `fold_whitespace` (every run of whitespace, line breaks included, is one
space: for references whose line breaks carry no meaning, like SROIE's box transcripts).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rapidfuzz.distance import Levenshtein

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
_FOLD = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "—": "-", "–": "-",
                       "\u00a0": " ", "ﬁ": "fi", "ﬂ": "fl"})


def normalize(text: str) -> str:
    """Whitespace- and punctuation-normalised text, one non-blank line per line."""
    lines = (" ".join(line.translate(_FOLD).split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def fold_whitespace(text: str) -> str:
    """Whitespace (line breaks too) folded to single spaces, trimmed."""
    return " ".join(text.split())


def char_error_rate(reference: str, hypothesis: str, *,
                    normalise: Callable[[str], str] = normalize) -> float:
    """Edit distance between the `normalise`d texts over the normalised reference's length."""
    ref = normalise(reference)
    hyp = normalise(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return float(Levenshtein.distance(ref, hyp)) / len(ref)


def reference_pages(name: str) -> list[str]:
    """The reference text of `samples/<name>.txt`, split into pages at form feeds."""
    text = (SAMPLES / f"{name}.txt").read_text(encoding="utf-8")
    return text.split("\f")
