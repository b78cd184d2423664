"""Text PostgreSQL can store: what `storable` removes and keeps, and pages made storable as
they are read (a text layer with U+0000, OCR output, plain text)."""

from __future__ import annotations

from ingest.ocr_pool import SerialOcr
from ingest.read_pages import read_pages
from ingest.sniff import sniff
from ingest.storable import (
    MAX_JSON_DEPTH,
    json_problem,
    storable,
    storable_json,
    unstorable_char,
)
from ingest.types import Limits
from tests.support.odd_pdfs import EngineRaisingOn, raw_text_pdf


def test_controls_and_lone_surrogates_go_tab_newline_and_pairs_stay() -> None:
    assert storable("a\x00b\x01c\x1fd") == ("abcd", 3)
    assert storable("keep\ttab\nnewline\rreturn") == ("keep\ttab\nnewline\rreturn", 0)
    assert storable("page one\fpage two") == ("page one\npage two", 0)
    assert storable("smile \ud83d\ude00 lone \ud800 low \udc00 end") == (
        "smile 😀 lone  low  end", 2)
    assert storable("Ünïcödé, € and DEL\x7f stay") == ("Ünïcödé, € and DEL\x7f stay", 0)


def test_json_values_are_storable_keys_included() -> None:
    value = {"reason\x00": ["bad \x00 byte", 3, None, ("\ud800",)], "ok": True}
    assert storable_json(value) == {"reason": ["bad  byte", 3, None, [""]], "ok": True}


def test_text_layer_nul_is_removed_and_counted() -> None:
    data = raw_text_pdf(b"Form 10-Q \\000 Yes \\001 No", b"Quarterly report, page two")
    pages = read_pages(data, sniff(data, "q.pdf", Limits()), limits=Limits(),
                       ocr=SerialOcr(EngineRaisingOn(min_width=0)))
    assert [page.text for page in pages] == ["Form 10-Q  Yes  No", "Quarterly report, page two"]
    assert [line.text for line in pages[0].lines] == ["Form 10-Q  Yes  No"]
    assert [page.removed_chars for page in pages] == [2, 0]


def test_plain_text_upload_is_storable_too() -> None:
    body = "Everyone agreed to meet again next month. " * 3  # sniff allows 1% control characters
    data = f"Minutes\x02 of the meeting\f{body}".encode()
    (page,) = read_pages(data, sniff(data, "m.txt", Limits()), limits=Limits(),
                         ocr=SerialOcr(EngineRaisingOn(min_width=0)))
    assert (page.text, page.removed_chars) == (f"Minutes of the meeting\n{body}", 1)


def test_unstorable_char_names_the_first_refused_character() -> None:
    assert unstorable_char("tab\tnew\nline\rok") is None
    assert unstorable_char("a\x00b") == "contains the control character U+0000 at position 1"
    assert unstorable_char("x\x1b[2J") == "contains the control character U+001B at position 1"
    assert unstorable_char("\udc00") == "contains a lone surrogate U+DC00 at position 0"


def test_json_problem_walks_any_depth_and_says_where() -> None:
    deep: dict[str, object] = {"leaf": 1}
    for _ in range(MAX_JSON_DEPTH - 1):
        deep = {"a": deep}
    assert json_problem(deep) is None  # exactly the limit
    too_deep: object = deep
    for _ in range(100_000):  # far past Python's recursion limit
        too_deep = [too_deep]
    assert "nests deeper than 32 levels" in (json_problem(too_deep) or "")
    assert json_problem({"a": [1, {"b": float("inf")}]}) == (
        "a.1.b is inf: JSON numbers must be finite")
    assert json_problem({"ok": "fine", "bad": "\x00"}) == (
        "bad contains the control character U+0000 at position 0")
    assert "a key under a" in (json_problem({"a": {"\ud800": 1}}) or "")
