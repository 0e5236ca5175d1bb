"""The bounded load test (`rag bench serve`): 32 concurrent clients on loopback send retrievals, embeddings and
answers (the real tiny model, so answers queue for it) while uploads are ingested; nothing fails except the
documented 429s, every answer is eventually given, and no SQL statement waits a second during the ingest."""

from __future__ import annotations

import json

from tests.conftest import ROOT
from tests.ingest.test_cli import rag

TOPICS = ["harbour ferries", "tide tables", "lighthouse lenses", "bee colonies", "moon phases", "rainfall",
          "map projections", "annual leave", "survey budgets", "server maintenance"]


def test_the_api_under_load_answers_everything_or_says_429(tmp_path, tiny_model):
    corpus = tmp_path / "corpus.jsonl"
    with corpus.open("w") as out:
        for i in range(40):
            topic = TOPICS[i % len(TOPICS)]
            text = " ".join(f"Note {i}.{n} on {topic}: the record lists item {n * 7 + i} for {topic}."
                            for n in range(12))
            out.write(json.dumps({"_id": str(i), "title": f"{topic} {i}", "text": text}) + "\n")
    result = rag(["bench", "serve", "--clients", "32", "--retrievals", "200", "--embeddings", "32",
                  "--answers", "24", "--ingest-files", "40", "--corpus", str(corpus), "--sample",
                  str(ROOT / "data" / "sample")], tmp_path / ".rag",
                 RAG_EMBEDDING__MODEL="default", RAG_GENERATOR__MODEL=str(tiny_model), RAG_GENERATOR__MAX_TOKENS="32",
                 RAG_ANSWER__MODEL_ABSTAIN_BELOW="0", RAG_ANSWER__ANSWERABLE_BELOW="0", RAG_API__QUEUE_SIZE="4")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["error_count"] == 0, report["errors"]
    endpoints = report["endpoints"]
    assert endpoints["retrieve"]["statuses"] == {"200": 200}
    assert endpoints["embeddings"]["statuses"] == {"200": 32}
    assert endpoints["chat"]["statuses"]["200"] == 24 and set(endpoints["chat"]["statuses"]) <= {"200", "429"}
    assert report["gave_up_after_429s"] == {"chat": 0, "retrieve": 0, "embeddings": 0}
    assert report["ingest"] == {**report["ingest"], "files": 40, "state": "done", "failed": 0}
    statements = report["sql_statements_during_ingest"]
    assert statements["over_1s"] == 0, statements["slowest_over_1s"]
    assert report["queue"]["in_line"] == 0 and "wait_p95_s" in report["queue"]
