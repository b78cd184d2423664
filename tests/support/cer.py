"""Character error rate (CER) of a text against its reference, for OCR and extraction tests.

Both texts are normalised the way OCR evaluations usually are: runs of spaces collapse to
one, lines are stripped, blank lines dropped, typographic quotes and dashes folded to ASCII.
CER is the Levenshtein distance divided by the reference length, so 0.0 is perfect and
values above 1.0 are possible when the hypothesis is much longer than the reference.
"""

from __future__ import annotations

from pathlib import Path

from rapidfuzz.distance import Levenshtein

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
_FOLD = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "—": "-", "–": "-",
                       "\u00a0": " ", "ﬁ": "fi", "ﬂ": "fl"})


def normalize(text: str) -> str:
    """Whitespace- and punctuation-normalised text, one non-blank line per line."""
    lines = (" ".join(line.translate(_FOLD).split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def cer(hypothesis: str, reference: str) -> float:
    """Levenshtein distance between the normalised texts over the reference length."""
    ref = normalize(reference)
    hyp = normalize(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return float(Levenshtein.distance(hyp, ref)) / len(ref)


def reference_pages(name: str) -> list[str]:
    """The reference text of `samples/<name>.txt`, split into pages at form feeds."""
    text = (SAMPLES / f"{name}.txt").read_text(encoding="utf-8")
    return text.split("\f")
