"""Long documents: pages ranked by retrieval (or lexically) and fitted to the model's context,
not cut off blindly."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pipelines.extract import SourcePage, extract, extract_document, named_schema
from pipelines.extract.pages import (
    RetrievalRanker,
    field_query,
    fit_pages,
    lexical_rank,
    render_pages,
)
from pipelines.llm import count_tokens
from tests.support import scripted_openai as so
from tests.support.extract import GOOD_RECEIPT, llm_config, scripted_router, tenant
from tests.support.fake_embedder import HashEmbedder
from tests.support.retrieval_corpus import add_document
from tests.support.scripted_openai import ScriptedOpenAI

FILLER = ("The committee reviewed the quarterly maintenance schedule for the northern "
          "warehouse and agreed to revisit the staffing plan after the holidays. ") * 6
FIELDS_PAGE = "Company: Book Ta.K\nDate: 25/12/2018\nAddress: 59 Jalan Sagu\nTotal: 9.00"


def _long_document(n: int = 12, at: int = 9) -> list[SourcePage]:
    return [SourcePage(i, FIELDS_PAGE if i == at else f"Minutes, part {i}. {FILLER}")
            for i in range(1, n + 1)]


def words(text: str) -> int:
    return len(text.split())


def test_field_query_names_every_property() -> None:
    query = field_query(named_schema("invoice").target().model_schema)
    assert query.split() == ["vendor", "invoice", "number", "date", "due", "line", "items",
                             "description", "quantity", "unit", "price", "amount", "subtotal",
                             "tax", "total", "currency"]


def test_fit_pages_takes_ranked_pages_that_fit_and_keeps_reading_order() -> None:
    pages = [SourcePage(1, "a " * 50), SourcePage(2, "b " * 10), SourcePage(3, "c " * 30)]
    fitted = fit_pages(pages, [3, 1, 2], 60, words)  # each page: its words + 4 + 2
    assert fitted.page_numbers == [2, 3] and not fitted.truncated  # 1 did not fit after 3
    everything = fit_pages(pages, [3, 1, 2], 1000, words)
    assert everything.page_numbers == [1, 2, 3]


def test_a_single_page_too_big_for_the_budget_is_cut_and_says_so() -> None:
    fitted = fit_pages([SourcePage(1, "word " * 500)], [1], 100, words)
    assert fitted.truncated and fitted.page_numbers == [1]
    assert 50 < words(render_pages(fitted.pages)) <= 100


def test_lexical_rank_puts_the_page_naming_the_fields_first() -> None:
    assert lexical_rank(_long_document(), "company date address total")[0] == 9


def test_retrieval_ranks_the_stored_pages_holding_the_fields_first(db_session: Session) -> None:
    embedder = HashEmbedder()
    pages = _long_document(at=7)
    t = tenant()
    document = add_document(db_session, tenant=t, texts=[p.text for p in pages],
                            embed=embedder.embed)
    ranker = RetrievalRanker(db_session, embedder, tenant=t, document_id=document.id)
    ranking = ranker.rank(pages, "company date address total")
    assert ranking[0] == 7 and sorted(ranking) == list(range(1, 13))
    other = RetrievalRanker(db_session, embedder, tenant=tenant(), document_id=document.id)
    assert other.rank(pages, "company date address total")[0] == 7  # lexical: no hits


async def test_a_long_document_sends_the_likely_pages_within_the_context_window(
    engine: Engine, scripted_openai: ScriptedOpenAI
) -> None:
    pages = _long_document()
    page_tokens = count_tokens(render_pages(pages[:1]))
    scripted_openai.script(so.structured(GOOD_RECEIPT))
    config = llm_config(scripted_openai, context_tokens=2000)
    async with scripted_router(engine, config) as router:
        result = await extract(router, tenant=tenant(), schema="receipt", pages=pages)

    sent = "\n".join(m["content"] for m in scripted_openai.last_request.body["messages"])
    assert "--- Page 9 ---\nCompany: Book Ta.K" in sent
    assert 9 in result.pages and 1 < len(result.pages) < 12 and not result.truncated
    assert result.pages == sorted(result.pages)
    assert len(result.pages) * page_tokens < 2000
    assert all(f"--- Page {n} ---" in sent for n in result.pages)


async def test_a_stored_document_is_read_from_its_pages(
    engine: Engine, db_session: Session, scripted_openai: ScriptedOpenAI
) -> None:
    embedder = HashEmbedder()
    t = tenant()
    document = add_document(db_session, tenant=t, texts=[p.text for p in _long_document(3, 2)],
                            embed=embedder.embed)
    scripted_openai.script(so.structured({**GOOD_RECEIPT, "address": "59 Jalan Sagu"}))
    async with scripted_router(engine, llm_config(scripted_openai)) as router:
        result = await extract_document(router, db_session, embedder, tenant=t,
                                        document_id=document.id, schema="receipt")
    assert result.pages == [1, 2, 3]
    assert result.evidence["address"].page == 2
    assert result.evidence["total"].quote == "Total: 9.00"
