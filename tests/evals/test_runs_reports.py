"""`rag eval answers|judge|runs|report|compare`: runs stored with what reproduces them, reports people can
read (checked for content, with document and model text escaped), and deltas with bootstrap intervals."""

from __future__ import annotations

import json

from tests.conftest import SAMPLE
from tests.evals.test_faithfulness import FIXTURE
from tests.ingest.test_cli import rag

QUESTIONS = [
    {"id": "leave", "question": "How many days of paid annual leave do employees get?", "answers": ["27 days"],
     "answerable": True, "gold": [{"document": "northwind-handbook.docx"}]},
    {"id": "moon", "question": "How long is the synodic month?", "answers": ["29.5 days"], "answerable": True},
    {"id": "capital", "question": "What is the capital of Australia?", "answerable": False},
    {"id": "script", "question": "<script>alert(1)</script> Who won the 1998 football world cup?",
     "answerable": False},
]
ENV = {"RAG_EMBEDDING__MODEL": "default"}


def test_answers_judge_runs_report_and_compare(tmp_path):
    data = tmp_path / ".rag"
    dataset = tmp_path / "questions.jsonl"
    dataset.write_text("\n".join(json.dumps(q) for q in QUESTIONS))
    pairs = tmp_path / "pairs.jsonl"
    kinds = {"1": "news", "4": "news"}  # two task kinds, each with both labels
    pairs.write_text("\n".join(json.dumps({"id": p.id, "context": p.context, "claim": p.claim, "label": p.label,
                                           "dataset": kinds.get(p.id, "qa")}) for p in FIXTURE))
    judged = rag(["eval", "judge", str(pairs), "--json"], data, **ENV)
    assert judged.returncode == 0, judged.stderr
    agreement = json.loads(judged.stdout)
    assert agreement["roc_auc"] == 1.0 and set(agreement["by_kind"]) == {"news", "qa"}
    assert agreement["by_kind"]["qa"]["n"] == 4 and agreement["by_kind"]["news"]["roc_auc"] == 1.0
    assert sum(b["n"] for b in agreement["reliability"]) == 6 and 0 <= agreement["ece"] <= 1
    judge_report = (data / "reports" / f"run-{agreement['run']}-judge.html").read_text()
    assert "Per task kind" in judge_report and "<h2>Reliability</h2>" in judge_report
    assert "| news | 2 | 1 | 1.0 |" in (data / "reports" / f"run-{agreement['run']}-judge.md").read_text()

    first = rag(["eval", "answers", str(dataset), "--corpus", str(SAMPLE), "-c", "s", "--json"], data, **ENV)
    assert first.returncode == 0, first.stderr
    metrics = json.loads(first.stdout)
    assert metrics["n"] == 4 and metrics["contains_gold"] == 1.0 and metrics["gold_found"] == 1.0
    assert metrics["abstention_recall"] == 1.0 and metrics["abstention_precision"] == 1.0
    assert metrics["faithfulness"] > 0.5 and metrics["citation_recall"] > 0.5
    assert metrics["citation_precision"] is not None and metrics["retrieve_p95_ms"] > 0

    second = rag(["eval", "answers", str(dataset), "-c", "s", "--json"], data, **ENV, RAG_ANSWER__MAX_SENTENCES="1")
    assert second.returncode == 0, second.stderr
    runs = json.loads(rag(["eval", "runs", "--json"], data).stdout)
    assert [r["kind"] for r in runs] == ["answers", "answers", "judge"]
    a, b = metrics["run"], json.loads(second.stdout)["run"]

    report = (data / "reports" / f"run-{a}-answers.html").read_text()
    assert "How long is the synodic month?" in report and "29.5 days" in report
    assert "<script>alert(1)</script>" not in report and "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    assert "data:image/png;base64," in report  # charts embedded, the file stands alone
    assert "Judge evidence-alignment: ROC AUC 1.0" in report  # the judge's measured agreement
    assert "AUC per task kind: news 1.0; qa 1.0" in report
    markdown = (data / "reports" / f"run-{a}-answers.md").read_text()
    assert "| faithfulness |" in markdown and "| leave |" in markdown
    stored = json.loads((data / "reports" / f"run-{a}-answers.json").read_text())
    assert stored["dataset_sha256"] and stored["index_checksum"] and stored["versions"]["groundwork-rag"]
    assert stored["settings"]["answer"]["max_sentences"] == 3

    compared = rag(["eval", "compare", str(a), str(b), "--json", "--resamples", "200"], data)
    assert compared.returncode == 0, compared.stderr
    rows = json.loads(compared.stdout)["metrics"]
    assert set(rows["contains_gold"]) >= {"a", "b", "delta", "ci95", "significant"}
    low, high = rows["contains_gold"]["ci95"]
    assert low <= rows["contains_gold"]["delta"] <= high
    assert rag(["eval", "report", str(a)], data).stdout.count("reports/run-") == 3
