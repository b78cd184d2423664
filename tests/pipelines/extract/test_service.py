"""Extraction through a real Router and the real `openai` SDK against the scripted server:
first-time success, re-ask, final failure, fallback, custom schemas, evidence, budget and
ledger per attempt, and the 503 without an extraction-capable model."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from pipelines.extract import (
    ExtractionFailed,
    InvalidSchema,
    NoExtractor,
    SourcePage,
    extract,
    extract_text,
)
from pipelines.llm import Budget, Ledger, parse_config
from tests.support import scripted_openai as so
from tests.support.extract import (
    BACKUP,
    GOOD_RECEIPT,
    PRIMARY,
    RECEIPT_PAGES,
    llm_config,
    scripted_router,
    tenant,
    user_text,
)
from tests.support.scripted_openai import ScriptedOpenAI

PAGES = [SourcePage(i, text) for i, text in enumerate(RECEIPT_PAGES, start=1)]


async def test_valid_answer_on_the_first_attempt(
    engine: Engine, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.script(so.structured(GOOD_RECEIPT, usage=(300, 40)))
    t = tenant()
    async with scripted_router(engine, llm_config(scripted_openai)) as router:
        result = await extract(router, tenant=t, schema="receipt", pages=PAGES)

    assert result.valid and result.attempts == 1 and result.prompt == "extract@v1"
    assert result.data == {"company": "BOOK TA .K (TAMAN DAYA) SDN BHD", "date": "2018-12-25",
                           "address": GOOD_RECEIPT["address"], "total": "9.00"}
    assert (result.provider, result.model, result.structured) == ("primary", PRIMARY,
                                                                  "json_schema")
    assert result.usage["input_tokens"] == 300 and result.usage["output_tokens"] == 40
    assert result.usage["cost_usd"] == pytest.approx((300 * 1.0 + 40 * 2.0) / 1e6)
    fmt = scripted_openai.last_request.body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["name"] == "receipt"
    strict = fmt["json_schema"]["schema"]
    assert strict["required"] == ["company", "date", "address", "total"]
    assert strict["additionalProperties"] is False
    assert "--- Page 2 ---" in user_text(scripted_openai.last_request.body)
    assert result.evidence["total"].page == 2 and result.evidence["total"].quote == "TOTAL: 9.00"
    assert result.evidence["date"].page == 1
    assert "25/12/2018" in (result.evidence["date"].quote or "")
    rows = await Ledger(engine).calls(tenant=t)
    assert [(r.task, r.outcome, r.prompt_version) for r in rows] == [
        ("extract", "ok", "extract@v1")]


async def test_invalid_then_valid_after_a_reask_carrying_the_errors(
    engine: Engine, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.script(so.structured({**GOOD_RECEIPT, "date": "sometime in winter"}),
                           so.structured(GOOD_RECEIPT))
    async with scripted_router(engine, llm_config(scripted_openai)) as router:
        result = await extract(router, tenant=tenant(), schema="receipt", pages=PAGES)

    assert result.valid and result.attempts == 2 and result.prompt == "extract_reask@v1"
    assert result.data["date"] == "2018-12-25"
    first, second = (r.body for r in scripted_openai.requests)
    assert "failed validation" not in user_text(first)
    reask = user_text(second)
    assert "failed validation" in reask
    assert "- date: Value error, not a recognised date: 'sometime in winter'" in reask
    assert "sometime in winter" in reask  # the previous answer is quoted back


async def test_invalid_every_time_fails_with_the_last_errors_and_raw_output(
    engine: Engine, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.script(so.text("Sure! The total is nine."),
                           so.structured({**GOOD_RECEIPT, "total": "nine"}),
                           so.structured({**GOOD_RECEIPT, "total": "about ten", "tip": 1}))
    t = tenant()
    async with scripted_router(engine, llm_config(scripted_openai)) as router:
        with pytest.raises(ExtractionFailed) as caught:
            await extract(router, tenant=t, schema="receipt", pages=PAGES)

    exc = caught.value
    assert exc.http_status == 422 and exc.code == "extraction_failed"
    assert exc.attempts == 3 and len(scripted_openai.requests) == 3
    assert '"about ten"' in exc.raw_output
    locs = {e["loc"] for e in exc.errors}
    assert locs == {"total", "tip"}, exc.errors
    assert exc.details["raw_output"] == exc.raw_output and exc.details["errors"] == exc.errors
    first_reask = user_text(scripted_openai.requests[1].body)
    assert "not valid JSON" in first_reask
    rows = await Ledger(engine).calls(tenant=t)
    assert len(rows) == 3 and {r.outcome for r in rows} == {"ok"}
    assert len({r.request_id for r in rows}) == 1  # one extraction, three booked attempts
    status = await Budget(engine, llm_config(scripted_openai).budgets, Ledger(engine)).status(t)
    assert status.spent_usd == pytest.approx(sum(r.cost_usd for r in rows))
    assert status.spent_usd > 0 and status.reserved_usd == 0


async def test_accept_invalid_returns_the_last_output_marked_invalid(
    engine: Engine, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.script(so.structured({**GOOD_RECEIPT, "total": "nine"}))
    async with scripted_router(engine, llm_config(scripted_openai)) as router:
        result = await extract(router, tenant=tenant(), schema="receipt", pages=PAGES,
                               max_attempts=1, accept_invalid=True)
    assert not result.valid and result.attempts == 1
    assert result.data["total"] == "nine" and result.errors[0]["loc"] == "total"
    assert result.evidence["total"].found is False


async def test_provider_down_falls_back_to_the_second_provider(
    engine: Engine, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.script(so.error(500), model=PRIMARY)
    scripted_openai.script(so.structured(GOOD_RECEIPT), model=BACKUP)
    t = tenant()
    async with scripted_router(engine, llm_config(scripted_openai, backup=True)) as router:
        result = await extract(router, tenant=t, schema="receipt", pages=PAGES)

    assert result.valid and result.attempts == 1
    assert (result.provider, result.model) == ("backup", BACKUP)
    assert [r.body["model"] for r in scripted_openai.requests] == [PRIMARY, BACKUP]
    rows = await Ledger(engine).calls(tenant=t)
    assert [(r.provider, r.outcome) for r in rows] == [("primary", "fallback"), ("backup", "ok")]


async def test_custom_json_schema_is_enforced_and_validated(
    engine: Engine, scripted_openai: ScriptedOpenAI
) -> None:
    schema = {"type": "object", "required": ["shop", "paid_on"], "properties": {
        "shop": {"type": "string", "minLength": 3},
        "paid_on": {"type": "string", "format": "date"},
        "method": {"type": "string", "enum": ["cash", "card"]},
        "change": {"type": "number"}}}
    scripted_openai.script(
        so.structured({"shop": "BO", "paid_on": "25/12/2018", "method": None, "change": 1}),
        so.structured({"shop": "BOOK TA .K", "paid_on": "25/12/2018", "method": "cash",
                       "change": None}))
    async with scripted_router(engine, llm_config(scripted_openai)) as router:
        result = await extract_text(router, tenant=tenant(), schema=schema,
                                    text="\f".join(RECEIPT_PAGES))

    assert result.schema == "custom" and result.attempts == 2
    assert result.data == {"shop": "BOOK TA .K", "paid_on": "2018-12-25", "method": "cash"}
    sent = scripted_openai.requests[0].body["response_format"]["json_schema"]["schema"]
    assert sent["required"] == ["shop", "paid_on", "method", "change"]
    assert sent["properties"]["method"]["enum"] == ["cash", "card", None]
    assert "minLength" not in sent["properties"]["shop"]  # enforced by us, told in words
    assert "minLength" in sent["properties"]["shop"]["description"]
    assert "- shop: 'BO' is too short" in user_text(scripted_openai.requests[1].body)
    assert result.evidence["method"].found and result.evidence["method"].page == 2


async def test_evidence_on_the_right_page_and_invented_values_flagged(
    engine: Engine, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.script(so.structured({**GOOD_RECEIPT, "company": "ACME WIDGETS LTD",
                                          "total": "19.00"}))
    async with scripted_router(engine, llm_config(scripted_openai)) as router:
        result = await extract(router, tenant=tenant(), schema="receipt", pages=PAGES)

    ev = {k: v.as_dict() for k, v in result.evidence.items()}
    assert ev["company"] == {"found": False, "page": None, "quote": None, "score": None}
    assert ev["total"]["found"] is False  # 19.00 is nowhere, though 9.00 is
    assert ev["address"]["found"] and ev["address"]["page"] == 1
    assert ev["address"]["quote"].startswith("NO.53 55,57 & 59, JALAN SAGU 18,\nTAMAN DAYA")


async def test_tools_mode_sends_a_forced_function(
    engine: Engine, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.script(so.structured(GOOD_RECEIPT))
    async with scripted_router(engine, llm_config(scripted_openai, mode="tools")) as router:
        result = await extract(router, tenant=tenant(), schema="receipt", pages=PAGES)
    body = scripted_openai.last_request.body
    assert body["tool_choice"]["function"]["name"] == "receipt"
    assert result.valid and result.structured == "tools"


async def test_no_extraction_capable_model_is_a_503_saying_how_to_configure(
    engine: Engine, scripted_openai: ScriptedOpenAI
) -> None:
    only_extractive = parse_config({}, {})  # the built-in extractive answerer alone
    no_structured = llm_config(scripted_openai, mode="none")
    for config in (only_extractive, no_structured):
        async with scripted_router(engine, config) as router:
            with pytest.raises(NoExtractor) as caught:
                await extract(router, tenant=tenant(), schema="receipt", pages=PAGES)
        assert caught.value.http_status == 503
        assert "OPENAI_API_KEY" in caught.value.message
        assert "LECTERN_LOCAL_MODEL_PATH" in caught.value.message
    with pytest.raises(NoExtractor):
        await extract(None, tenant=tenant(), schema="receipt", pages=PAGES)
    assert not scripted_openai.requests


async def test_a_bad_schema_is_refused_before_any_call(
    engine: Engine, scripted_openai: ScriptedOpenAI
) -> None:
    async with scripted_router(engine, llm_config(scripted_openai)) as router:
        with pytest.raises(InvalidSchema) as caught:
            await extract(router, tenant=tenant(), schema="passport", pages=PAGES)
    assert caught.value.details["known"] == ["receipt", "invoice"]
    assert not scripted_openai.requests
