"""OCR of one page image: the `OcrEngine` seam and its Tesseract implementation.

`TesseractOcr.read` runs Tesseract's automatic page segmentation (psm 3). When the page's
characters are small (phone photos and low-resolution scans of receipts), it also reads the
page enlarged and keeps whichever reading scores better. It then checks the result against the
page itself: if much of the page's ink lies outside every recognised word
(psm 3 is known to drop whole blocks, e.g. a narrow column of numbers in a table), it tries psm 6
and keeps whichever reads more. Pages that read badly are checked for orientation with OSD.
"""

from __future__ import annotations

import io
import os
import subprocess
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image, ImageFilter

from ingest.errors import OcrFailed
from ingest.images import Box, character_size, has_ink, uncovered_text_ratio

# A psm 3 result with at least this mean confidence is taken as upright without asking OSD.
UPRIGHT_CONFIDENCE = 75.0
# OSD answers below this orientation confidence are ignored (Tesseract's scale; ~2 is plausible).
OSD_MIN_CONFIDENCE = 1.5
# Retry with psm 6 when more than this share of the page's text-like ink is outside every word.
DROPPED_INK_RATIO = 0.03
# A retry must read this much more (confidence-weighted characters) to replace the first result.
RETRY_MARGIN = 1.05
# Words below this confidence don't count towards a pass's score (pictures read as "words").
SCORE_MIN_CONFIDENCE = 60.0
# Despeckle (3x3 median) only at resolutions where text strokes are wider than one pixel.
DESPECKLE_MIN_DPI = 150
# The retry: one uniform block, binarised with Sauvola's local threshold, which also reads
# text on shaded backgrounds that the default global (Otsu) threshold turns into solid black.
RETRY_PSM = 6
RETRY_CONFIG = ("-c", "thresholding_method=2")
# Pages whose median character is smaller than this (pixels) are also read enlarged by
# SMALL_TEXT_SCALE. Tesseract's models read poorly below about 20 px; on the SROIE receipt
# photos, doubling pages under 13 px cut the character error rate by about half, and doubling
# larger ones gained nothing (see bench/ocr.py). The enlarged reading must still score better
# (dot-matrix print measures as its dots, which are small even when the characters are not).
SMALL_TEXT_SIZE = 13.0
SMALL_TEXT_SCALE = 2
# ...unless the enlarged page would exceed this many pixels (memory and time bound).
MAX_SCALED_PIXELS = 40_000_000


@dataclass(frozen=True)
class OcrPage:
    """What OCR read on one page: text, mean word confidence (0–100), and how it was read.

    `psm` is the Tesseract page segmentation mode of the kept reading; `rotation` the clockwise
    degrees (0/90/180/270) the image was turned to read it upright; `scale` how much it was
    enlarged first (1 or `SMALL_TEXT_SCALE`).
    """

    text: str
    mean_confidence: float
    word_count: int
    psm: int
    rotation: int
    scale: int = 1


class OcrEngine(Protocol):
    """Reads the text of one page image.

    Contract: `read` is safe to call from several threads and processes at once and holds no
    state between calls (an `OcrPool` builds one engine per worker from a picklable factory).
    Cost: CPU-bound, about 1–3 s per 200 dpi page on one core, up to three times that when a
    rotated page or a dropped block forces another pass. A page without text returns an
    `OcrPage` with empty `text`; a failure of the engine itself raises `OcrFailed`.
    """

    def read(self, image: Image.Image) -> OcrPage:
        """Read one page image."""
        ...


@dataclass(frozen=True)
class _Word:
    text: str
    conf: float
    box: Box
    line_key: tuple[int, int, int]


@dataclass(frozen=True)
class _Pass:
    words: list[_Word]
    psm: int
    rotation: int
    scale: int = 1

    @property
    def score(self) -> float:
        """Confidence-weighted character count: more text read with more certainty is better."""
        return sum(len(w.text) * w.conf / 100 for w in self.words
                   if w.conf >= SCORE_MIN_CONFIDENCE)

    def to_page(self) -> OcrPage:
        confs = [w.conf for w in self.words]
        mean = sum(confs) / len(confs) if confs else 0.0
        return OcrPage(_words_to_text(self.words), round(mean, 2), len(confs), self.psm,
                       self.rotation, self.scale)


class TesseractOcr:
    """`OcrEngine` backed by the Tesseract command line, run with `OMP_THREAD_LIMIT=1`.

    `dpi` is used when the image carries no resolution of its own; `timeout` bounds each
    Tesseract call in seconds, so a stuck page fails with `OcrFailed` instead of hanging;
    `despeckle` removes scanner dust (a 3x3 median) at 150 dpi and above.
    """

    def __init__(self, lang: str = "eng", dpi: int = 200, *, timeout: float = 120.0,
                 despeckle: bool = True, tesseract_cmd: str = "tesseract") -> None:
        self.lang = lang
        self.despeckle = despeckle
        self.dpi = dpi
        self.timeout = timeout
        self.tesseract_cmd = tesseract_cmd

    def read(self, image: Image.Image) -> OcrPage:
        """Read one page image; see `OcrEngine.read`."""
        dpi = _image_dpi(image, self.dpi)
        original = image.convert("L")
        gray = self._prepare(original, dpi)
        best = self._pass(gray, dpi, psm=3, rotation=0)
        if _small_text(original):
            scale = SMALL_TEXT_SCALE
            large = self._prepare(_enlarge(original, scale), dpi * scale)
            enlarged = self._pass(large, dpi * scale, psm=3, rotation=0, scale=scale)
            if enlarged.score > best.score * RETRY_MARGIN:
                best, gray, dpi = enlarged, large, dpi * scale
        if _mean_conf(best) < UPRIGHT_CONFIDENCE and has_ink(gray):
            rotation = self.detect_rotation(gray, dpi)
            if rotation:
                turned = self._pass(_rotate(gray, rotation), dpi, psm=3, rotation=rotation,
                                    scale=best.scale)
                if turned.score > best.score * RETRY_MARGIN:
                    best = turned
        upright = _rotate(gray, best.rotation)
        suspect = _dropped(upright, best, dpi) if best.words else has_ink(upright)
        if suspect:
            block = self._pass(upright, dpi, psm=RETRY_PSM, rotation=best.rotation,
                               scale=best.scale, config=RETRY_CONFIG)
            if block.score > best.score * RETRY_MARGIN:
                best = block
        return best.to_page()

    def _prepare(self, gray: Image.Image, dpi: int) -> Image.Image:
        """Despeckle when enabled and strokes are wide enough to survive a 3x3 median."""
        if self.despeckle and dpi >= DESPECKLE_MIN_DPI:
            return gray.filter(ImageFilter.MedianFilter(3))
        return gray

    def detect_rotation(self, gray: Image.Image, dpi: int) -> int:
        """Clockwise degrees (0/90/180/270) that make the page upright; 0 when OSD can't tell."""
        try:
            out = self._run(gray, dpi, ["--psm", "0", "-l", "osd"])
        except OcrFailed:  # "Too few characters": sparse pages have no detectable orientation
            return 0
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        try:
            rotate = int(fields["Rotate"].strip())
            confidence = float(fields["Orientation confidence"].strip())
        except (KeyError, ValueError):
            return 0
        return rotate % 360 if confidence >= OSD_MIN_CONFIDENCE else 0

    def _pass(self, gray: Image.Image, dpi: int, *, psm: int, rotation: int, scale: int = 1,
              config: tuple[str, ...] = ()) -> _Pass:
        tsv = self._run(gray, dpi, ["--psm", str(psm), "-l", self.lang, *config, "tsv"])
        return _Pass(_parse_tsv(tsv), psm, rotation, scale)

    def _run(self, gray: Image.Image, dpi: int, args: list[str]) -> str:
        buffer = io.BytesIO()
        gray.save(buffer, format="PPM")  # raw greyscale: no compression cost, read from stdin
        cmd = [self.tesseract_cmd, "stdin", "stdout", "--dpi", str(dpi), *args]
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run(cmd, input=buffer.getvalue(), capture_output=True, env=env,
                                  timeout=self.timeout, check=False)
        except FileNotFoundError as exc:
            raise OcrFailed("Tesseract is not installed", command=self.tesseract_cmd) from exc
        except subprocess.TimeoutExpired as exc:
            raise OcrFailed("Tesseract timed out", timeout=self.timeout) from exc
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace").strip()
            raise OcrFailed("Tesseract failed", returncode=done.returncode,
                            stderr=stderr[-500:], args=args)
        return done.stdout.decode("utf-8", "replace")


def _parse_tsv(tsv: str) -> list[_Word]:
    """Words (level 5 rows with text) from Tesseract's TSV output, in reading order."""
    words: list[_Word] = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        left, top, width, height = (int(c) for c in cols[6:10])
        key = (int(cols[2]), int(cols[3]), int(cols[4]))
        words.append(_Word(cols[11].strip(), max(0.0, float(cols[10])),
                           (left, top, left + width, top + height), key))
    return words


def _words_to_text(words: list[_Word]) -> str:
    """Join words into lines, lines into paragraphs, paragraphs with a blank line between."""
    out: list[str] = []
    previous: tuple[int, int, int] | None = None
    for word in words:
        if previous is None:
            out.append(word.text)
        elif word.line_key == previous:
            out.append(" " + word.text)
        else:
            same_par = word.line_key[:2] == previous[:2]
            out.append(("\n" if same_par else "\n\n") + word.text)
        previous = word.line_key
    return "".join(out)


def _mean_conf(result: _Pass) -> float:
    return sum(w.conf for w in result.words) / len(result.words) if result.words else 0.0


def _dropped(gray: Image.Image, result: _Pass, dpi: int) -> bool:
    """True when a suspicious share of the page's text-like ink lies outside every word."""
    return uncovered_text_ratio(gray, [w.box for w in result.words], dpi) > DROPPED_INK_RATIO


def _small_text(gray: Image.Image) -> bool:
    """Whether the page's characters are small enough to be worth reading enlarged too."""
    fits = gray.width * gray.height * SMALL_TEXT_SCALE**2 <= MAX_SCALED_PIXELS
    return fits and 0 < character_size(gray) < SMALL_TEXT_SIZE  # 0: no ink at all


def _enlarge(gray: Image.Image, scale: int) -> Image.Image:
    return gray.resize((gray.width * scale, gray.height * scale), Image.Resampling.LANCZOS)


def _rotate(gray: Image.Image, clockwise: int) -> Image.Image:
    return gray.rotate(-clockwise, expand=True) if clockwise else gray


def _image_dpi(image: Image.Image, default: int) -> int:
    """The resolution stored in the image when plausible, else `default`.

    Cameras write 72 dpi into every photo; a stored value implying a page over 25 inches
    long is such a placeholder, not a scan resolution.
    """
    dpi: Any = image.info.get("dpi")
    try:
        value = round(float(dpi[0]))
    except (TypeError, ValueError, IndexError):
        return default
    plausible = 70 <= value <= 1200 and max(image.size) / value <= 25
    return value if plausible else default
