"""`lectern eval` on the samples' golden set against the e2e server, and `/v1/evals`.

The samples (the digital report, the receipt, the note) are ingested into a collection of
their own; the first run has nothing to compare with, a second identical run shows no
regression, and a run after the note is deleted fails the gate (exit 1) on the metrics that
dropped. Runs are per tenant.
"""

from __future__ import annotations

import httpx
from typer.testing import CliRunner

from app.cli.main import cli
from tests.support.api import Server, upload, wait_for_job
from tests.support.cer import SAMPLES

GOLDEN = SAMPLES / "golden.jsonl"
COLLECTION = "samples-eval"


def _eval(server: Server, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["eval", str(GOLDEN), "--collection", COLLECTION,
                                      "--url", server.url, "--api-key", server.keys["alpha"],
                                      *extra])
    return result.exit_code, result.output


def test_lectern_eval_gates_on_the_samples_golden_set(server: Server, alpha: httpx.Client,
                                                      beta: httpx.Client) -> None:
    ids = {}
    for name in ("digital-report.pdf", "receipt.png", "note.md"):
        response = upload(alpha, name, (SAMPLES / name).read_bytes(), collection=COLLECTION)
        assert response.status_code == 202, response.text
        assert wait_for_job(alpha, response.json()["job"]["id"])["status"] == "succeeded"
        ids[name] = response.json()["document"]["id"]

    code, output = _eval(server)
    assert code == 0, output
    assert "first run of this set" in output and "suggested min_score" in output
    first = alpha.get("/v1/evals", params={"name": "golden"}).json()["items"][0]
    metrics = first["metrics"]
    assert metrics["recall@5"] >= 0.9 and metrics["mrr"] >= 0.8, metrics
    assert metrics["answer_containment"] >= 0.7, [
        (r["question"], r.get("answer_text")) for r in first["results"]]
    assert first["question_count"] == 12 and first["comparison"] is None

    code, output = _eval(server)
    assert code == 0, output
    second = alpha.get("/v1/evals", params={"name": "golden"}).json()["items"][0]
    assert second["comparison"]["previous_id"] == first["id"]
    assert second["comparison"]["regressions"] == []

    assert alpha.delete(f"/v1/documents/{ids['note.md']}").status_code == 204
    code, output = _eval(server, "--no-answers")
    assert code == 1, output
    assert "regressed: recall@5" in output
    assert beta.get("/v1/evals").json()["total"] == 0
    assert beta.get(f"/v1/evals/{first['id']}").status_code == 404


def test_a_bad_golden_set_is_refused_naming_the_question(alpha: httpx.Client) -> None:
    response = alpha.post("/v1/evals", json={"name": "bad", "questions": [
        {"question": "fine?", "unanswerable": True}, {"question": "which document?"}]})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_golden_set" and error["message"].startswith("question 2:")
