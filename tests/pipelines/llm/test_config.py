"""LLM config: from the environment, from TOML (incl. every example in the docs), errors."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pipelines.llm.config import build_providers, load_config, parse_config
from pipelines.llm.errors import ConfigError
from pipelines.llm.providers.extractive import ExtractiveProvider
from pipelines.llm.route_request import RouteRequest
from pipelines.llm.router_events import Finished, Started
from pipelines.llm.types import Message, SourcePassage, TextDelta
from tests.support import scripted_openai as so
from tests.support.routing import MESSAGES, collect, router, tenant

DOC = Path(__file__).parents[3] / "docs/llm-config.md"
KEYS = {"OPENAI_API_KEY": "sk-test", "AZURE_OPENAI_API_KEY": "az", "GROQ_API_KEY": "gq",
        "ANTHROPIC_API_KEY": "an"}


def test_openai_key_alone_gives_mid_and_premium_at_list_prices() -> None:
    cfg = load_config(None, {"OPENAI_API_KEY": "sk-test"})
    by_id = {m.id: m for m in cfg.models}
    mini, big = by_id["gpt-4o-mini"], by_id["gpt-4o"]
    assert (mini.tier, mini.price_in_per_mtok, mini.price_out_per_mtok) == ("mid", 0.15, 0.60)
    assert (big.tier, big.price_in_per_mtok, big.price_out_per_mtok) == ("premium", 2.5, 10.0)
    assert by_id["extractive"].tasks == ("answer",) and by_id["extractive"].tier == "free"
    assert cfg.provider_options("openai", {"OPENAI_API_KEY": "sk-test"})["api_key"] == "sk-test"
    assert cfg.policy("answer").min_tier == "mid"


def test_no_environment_gives_the_extractive_offline_default_and_local_adds_free() -> None:
    assert [m.id for m in load_config(None, {}).models] == ["extractive"]
    cfg = load_config(None, {"LECTERN_LOCAL_MODEL_PATH": "/m.gguf", "LECTERN_DAILY_BUDGET_USD":
                             "2.5"})
    local = cfg.model("local")
    assert local.tier == "free" and cfg.providers["local"].model_path == "/m.gguf"
    assert cfg.budgets.limit_for("anyone") == 2.5


async def test_env_config_answers_through_openai_base_url(
    engine: Engine, scripted_openai: so.ScriptedOpenAI
) -> None:
    env = {"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": scripted_openai.base_url}
    cfg = load_config(None, env)
    providers, skipped = build_providers(cfg, env)
    assert set(providers) == {"openai", "extractive"} and not skipped
    scripted_openai.script(so.text("From the mid tier."))
    done = await router(engine, cfg, providers).complete(
        RouteRequest("answer", tenant(), MESSAGES, prompt="answer@v1"))
    assert (done.served.model, done.served.tier, done.text) == (
        "gpt-4o-mini", "mid", "From the mid tier.")
    assert scripted_openai.last_request.headers["authorization"] == "Bearer sk-env"
    assert scripted_openai.last_request.body["model"] == "gpt-4o-mini"


async def test_offline_default_answers_extractively(engine: Engine) -> None:
    cfg = load_config(None, {})
    r = router(engine, cfg, {"extractive": ExtractiveProvider()})
    passages = (SourcePassage(1, "Revenue in 2023 was 5 million euros. The sky is blue."),)
    question = Message("user", "Question: What was revenue in 2023?")
    events = await collect(r.stream(RouteRequest("answer", tenant(), (MESSAGES[0], question),
                                                 prompt="answer@v1", passages=passages)))
    assert isinstance(events[0], Started) and events[0].served.extractive
    assert events[0].served.degraded  # answer wants mid; nothing else is configured
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "5 million" in text and "[1]" in text and isinstance(events[-1], Finished)


def _doc_examples() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_every_documented_example_is_valid(tmp_path: Path) -> None:
    examples = _doc_examples()
    assert len(examples) >= 9
    for i, text in enumerate(examples):
        path = tmp_path / f"example{i}.toml"
        path.write_text(text, encoding="utf-8")
        cfg = load_config(path, KEYS)
        assert any(m.provider != "extractive" for m in cfg.models), text
    kinds = {p["kind"] for e in examples for p in tomllib.loads(e)["providers"].values()}
    assert kinds == {"openai", "azure", "anthropic", "local"}


def test_lectern_config_variable_and_optional_providers(tmp_path: Path) -> None:
    path = tmp_path / "llm.toml"
    path.write_text(_doc_examples()[-1], encoding="utf-8")  # local + optional openai
    cfg = load_config(None, {"LECTERN_CONFIG": str(path)})
    assert set(cfg.providers) == {"local", "extractive"}  # no key: openai dropped
    assert cfg.policy("cleanup").min_tier == "free" and cfg.policy("extract").min_tier == "mid"


@pytest.mark.parametrize(("toml", "field"), [
    ("tiers = [\n", "(file)"),
    ('[providers.x]\nkind = "openai"\nbase_ur = "http://h"\n', "providers.x.base_ur"),
    ('[providers.x]\nkind = "openai"\n[[models]]\nid = "m"\nprovider = "x"\ntier = "gold"\n',
     "models.0.tier"),
    ('[providers.x]\nkind = "openai"\n[[models]]\nid = "m"\nprovider = "x"\ntier = "mid"\n'
     "price_in_per_mtok = -1\n", "models.0.price_in_per_mtok"),
    ('[providers.x]\nkind = "openai"\napi_key_env = "NOPE_KEY"\n', "providers.x.api_key_env"),
    ('[tasks.answer]\nmin_tier = "ultra"\n', "tasks.answer.min_tier"),
    ('tiers = ["a", "a"]\n', "tiers"),
    ('[budgets]\ndaily_usd = "lots"\n', "budgets.daily_usd"),
])
def test_bad_config_raises_config_error_naming_the_field(
    tmp_path: Path, toml: str, field: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert info.value.details["field"] == field
    assert info.value.http_status == 500


def test_cross_field_errors_name_the_offending_entry() -> None:
    with pytest.raises(ConfigError, match=r"models\.0\.tier: 'gold' is not one of"):
        parse_config({"providers": {"x": {"kind": "openai"}},
                      "models": [{"id": "m", "provider": "x", "tier": "gold"}]}, {})
    with pytest.raises(ConfigError, match=r"models\.0\.provider: unknown provider 'y'"):
        parse_config({"providers": {"x": {"kind": "openai"}},
                      "models": [{"id": "m", "provider": "y", "tier": "mid"}]}, {})
    with pytest.raises(ConfigError, match="not found"):
        load_config(Path("/nonexistent/llm.toml"), {})
