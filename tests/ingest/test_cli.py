"""The `rag` command as a user runs it (subprocesses, real SQLite and FAISS, the fake embedder for speed)."""

import json
import os
import subprocess
import sys

from tests.conftest import SAMPLE


def rag(args, data_dir, **env):
    environment = {**os.environ, "RAG_DATA_DIR": str(data_dir), "RAG_EMBEDDING__MODEL": "fake",
                   "RAG_GENERATOR__MODEL": "extractive", **env}
    return subprocess.run([sys.executable, "-c", "from rag.cli import main; main()", *args],
                          capture_output=True, text=True, env=environment, timeout=300)


def test_ingest_json_summary_then_index_commands(tmp_path):
    data = tmp_path / ".rag"
    result = rag(["ingest", str(SAMPLE), "--collection", "sample", "--json"], data)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for key in ("files_seen", "ingested", "skipped", "failed", "chunks_added", "chunks_removed", "seconds"):
        assert key in summary
    assert summary["ingested"] == 9 and summary["failed"] == []
    assert rag(["index", "verify"], data).returncode == 0
    info = json.loads(rag(["index", "info", "--json"], data).stdout)
    assert info[0]["vectors"] == summary["chunks_added"] and info[0]["factory"] == "IDMap2,SQfp16"
    docs = json.loads(rag(["docs", "list", "-c", "sample", "--json"], data).stdout)
    assert len(docs) == 9 and all(d["status"] == "ingested" for d in docs)


def test_a_corrupted_index_is_reported_and_rebuilt(tmp_path):
    data = tmp_path / ".rag"
    rag(["ingest", str(SAMPLE / "honeybees.md"), "--json"], data)
    index_file = next((data / "index").glob("*.faiss"))
    index_file.write_bytes(b"garbage")
    verify = rag(["index", "verify"], data)
    assert verify.returncode == 1 and "rag index rebuild" in verify.stdout
    assert rag(["index", "rebuild"], data).returncode == 0
    assert rag(["index", "verify"], data).returncode == 0


def test_docs_rm_and_collections_rm(tmp_path):
    data = tmp_path / ".rag"
    rag(["ingest", str(SAMPLE), "-c", "s", "--json"], data)
    assert rag(["docs", "rm", "honeybees", "-c", "s", "--yes"], data).returncode == 0
    docs = json.loads(rag(["docs", "list", "-c", "s", "--json"], data).stdout)
    assert len(docs) == 8 and rag(["index", "verify"], data).returncode == 0
    assert rag(["collections", "rm", "s", "--yes"], data).returncode == 0
    assert json.loads(rag(["collections", "list", "--json"], data).stdout) == []


def test_errors_are_one_clear_line_not_a_traceback(tmp_path):
    result = rag(["docs", "list", "-c", "nope"], tmp_path / ".rag")
    assert result.returncode == 2 and "no collection named 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_doctor_reports_models_faiss_and_package_ownership(tmp_path):
    result = rag(["doctor", "--json"], tmp_path / ".rag", RAG_EMBEDDING__MODEL="default")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["package_problems"] == []
    assert report["embedding_model"]["id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert report["faiss"]["gpus"] >= 0 and report["database_url"].startswith("sqlite:///")
    assert "offline" in report["unstructured_nlp"] or "installed" in report["unstructured_nlp"]
    assert f"{len(os.sched_getaffinity(0))} cores" in report["machine"]
