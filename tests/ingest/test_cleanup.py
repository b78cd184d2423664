"""Normalisation, the rewrite guard and page cleanup statuses."""

from __future__ import annotations

from ingest.cleanup import CleanupBounds, clean_page, guard_rewrite, normalize
from ingest.types import PageText


class ReplayCleaner:
    """A `TextCleaner` that returns a fixed reply (or raises) and records what it was given."""

    def __init__(self, reply: str | None = None, error: Exception | None = None) -> None:
        self.reply, self.error = reply, error
        self.seen: list[str] = []

    def clean(self, text: str) -> str:
        self.seen.append(text)
        if self.error is not None:
            raise self.error
        assert self.reply is not None
        return self.reply


def test_normalize_fixes_ligatures_and_soft_hyphens() -> None:
    assert normalize("The \ufb01rst \ufb02ow, \ufb00 \ufb03 \ufb04") == "The first flow, ff ffi ffl"
    assert normalize("soft\u00adware and infor\u00ad\nmation") == "software and information"


def test_normalize_joins_words_broken_across_lines() -> None:
    assert normalize("the infor-\nmation is key") == "the information\nis key"
    assert normalize("we re-\nceived, then left") == "we received,\nthen left"
    assert normalize("a long infor-\nmation\nnext line") == "a long information\nnext line"


def test_normalize_keeps_real_hyphens() -> None:
    assert normalize("a state-of-the-art model") == "a state-of-the-art model"
    assert normalize("a state-of-the-\nart model") == "a state-of-the-art\nmodel"
    assert normalize("COVID-\n19 cases") == "COVID-19\ncases"
    assert normalize("pages 10-\n20 here") == "pages 10-20\nhere"
    assert normalize("- item one\n- item two") == "- item one\n- item two"


def test_normalize_whitespace_and_headings() -> None:
    raw = "# Title  \n\n\n\n\nbody   text\t here   \n\n\n## Sub\nend"
    assert normalize(raw) == "# Title\n\nbody text here\n\n## Sub\nend"
    assert normalize(normalize(raw)) == normalize(raw)


def test_guard_accepts_light_fix() -> None:
    original = "Tbe revenue grew by 12.5% in 2023 and the rnargin was 8 points higher than before."
    fixed = "The revenue grew by 12.5% in 2023 and the margin was 8 points higher than before."
    verdict = guard_rewrite(original, fixed, CleanupBounds())
    assert verdict.accepted and verdict.text == fixed


def test_guard_rejects_changed_added_or_dropped_numbers() -> None:
    original = "Revenue was 1,200 in 2023 and 900 in 2022 for the whole company."
    changed = guard_rewrite(original, original.replace("1,200", "1,300"))
    added = guard_rewrite(original, original + " Up 33%.")
    dropped = guard_rewrite(original, original.replace(" and 900 in 2022", ""))
    for verdict in (changed, added, dropped):
        assert not verdict.accepted and verdict.reason and "numbers" in verdict.reason


def test_guard_rejects_dropped_words_and_drift() -> None:
    original = (
        "The committee reviewed the proposal in detail and agreed that the budget for the "
        "new library building should be approved without further delay by the council."
    )
    summary = "The committee agreed the library budget should be approved."
    verdict = guard_rewrite(original, summary)
    assert not verdict.accepted and verdict.reason and "dropped" in verdict.reason
    reworded = original.replace("committee", "board").replace("proposal", "plan")
    reworded = reworded.replace("building", "centre").replace("council", "mayor")
    verdict = guard_rewrite(original, reworded)
    assert not verdict.accepted and verdict.reason and "dropped" in verdict.reason
    padded = original + (
        " It also discussed parking, lighting, opening hours and staffing, and asked the"
        " architects for a revised plan."
    )
    verdict = guard_rewrite(original, padded)  # nothing dropped, but far from the original
    assert not verdict.accepted and verdict.reason and "similarity" in verdict.reason


def test_guard_rejects_lost_heading_and_empty_rewrite() -> None:
    original = "# Results\nThe results are good and the method works well in practice."
    assert guard_rewrite(original, original.lstrip("# ")).reason == "heading lines changed"
    assert guard_rewrite(original, "   ").reason == "rewrite is empty"


def test_clean_page_text_layer_is_never_sent_to_the_cleaner() -> None:
    cleaner = ReplayCleaner("ignored")
    page = PageText(page_no=1, method="text", text="1 Introduction\nThe \ufb01rst page.")
    clean = clean_page(page, cleaner, CleanupBounds())
    assert cleaner.seen == []
    assert (clean.cleanup, clean.cleanup_reason) == ("skipped", "text layer")
    assert clean.text == "# 1 Introduction\nThe first page."
    assert clean.raw_text == page.text


def test_clean_page_ocr_applied_rejected_and_skipped() -> None:
    text = "Tbe invoice total is 9.00 and it was paid on time by the customer."
    page = PageText(page_no=2, method="ocr", text=text, ocr_confidence=71.0)
    good = text.replace("Tbe", "The")
    applied = clean_page(page, ReplayCleaner(good), CleanupBounds())
    assert (applied.cleanup, applied.text, applied.ocr_confidence) == ("applied", good, 71.0)

    rejected = clean_page(page, ReplayCleaner(good.replace("9.00", "90.00")), CleanupBounds())
    assert rejected.cleanup == "rejected" and rejected.text == text
    assert rejected.cleanup_reason and "numbers" in rejected.cleanup_reason

    failing = ReplayCleaner(error=TimeoutError("provider timed out"))
    skipped = clean_page(page, failing, CleanupBounds())
    assert skipped.cleanup == "skipped" and skipped.text == text
    assert skipped.cleanup_reason and "TimeoutError" in skipped.cleanup_reason

    none = clean_page(page, None, CleanupBounds())
    assert (none.cleanup, none.cleanup_reason) == ("skipped", "no cleaner configured")


def test_clean_page_sends_recovered_markdown_to_the_cleaner() -> None:
    cleaner = ReplayCleaner(error=RuntimeError("offline"))
    page = PageText(page_no=1, method="ocr", text="2.1 Revenue\nSales were up.")
    clean_page(page, cleaner, CleanupBounds())
    assert cleaner.seen == ["## 2.1 Revenue\nSales were up."]
