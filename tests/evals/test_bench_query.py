"""`rag bench query` prints latency for each method and the approximate index's recall."""

import json

from tests.evals.test_retrieval_cli import _beir
from tests.ingest.test_cli import rag


def test_bench_query_reports_latency_per_method_and_ann_recall(tmp_path):
    folder = _beir(tmp_path / "tiny")
    result = rag(["bench", "query", "--source", str(folder), "--sizes", "500", "--ann-size", "3000",
                  "--queries", "3", "--answers", "", "--llm-shape", "tiny", "--llm-tokens", "16"], tmp_path / ".rag")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for method in ("lexical", "dense", "hybrid"):
        assert report["sizes"]["500"][method]["p95_ms"] > 0
    assert report["ann"]["recall@10"] == 1.0 and report["ann"]["factory"] == "IDMap2,SQfp16"
    llm = report["llama_cpp"]
    assert llm["prompt_tok_s"] > 0 and llm["memory_read_gb_s"] > 0 and llm["bandwidth_bound_tok_s"] > 0
    assert all(v > 0 for v in llm["decode_tok_s"].values()) and 0 < llm["grammar_vs_bare"]

    runs = json.loads(rag(["eval", "runs", "--json"], tmp_path / ".rag").stdout)
    assert runs[0]["kind"] == "bench-query" and runs[0]["metrics"]["sizes.500.hybrid.p95_ms"] > 0


def test_bench_ingest_reports_throughput_and_is_kept_as_a_run(tmp_path):
    folder = _beir(tmp_path / "tiny")
    result = rag(["bench", "ingest", "--source", str(folder / "corpus.jsonl"), "--docs", "20", "--per-file", "5"],
                 tmp_path / ".rag")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["documents_ok"] == report["files"] > 0 and report["chunks_per_s"] > 0
    assert "ratio_vs_bare_fp32" in report  # null with the fake embedder
    runs = json.loads(rag(["eval", "runs", "--json"], tmp_path / ".rag").stdout)
    assert runs[0]["id"] == report["run"] and runs[0]["kind"] == "bench-ingest"
    assert runs[0]["metrics"]["timings.embed"] >= 0
    shown = rag(["eval", "report", str(report["run"])], tmp_path / ".rag")
    assert shown.returncode == 0 and "html:" in shown.stdout
