"""`rag eval retrieval` on a small BEIR folder: ingests once, scores each method, and the scores mean something."""

import json

from tests.ingest.test_cli import rag

DOCS = {
    "d1": ("Tides", "Tides are caused by the gravitational pull of the Moon and the Sun on the oceans."),
    "d2": ("Bees", "Honeybees communicate the direction of nectar with a waggle dance on the comb."),
    "d3": ("Lenses", "The Fresnel lens made lighthouse beams visible far out at sea."),
    "d4": ("Clouds", "Water vapour condenses into droplets that form clouds as moist air rises."),
}
QUERIES = {"q1": "what causes ocean tides moon", "q2": "waggle dance honeybees", "q3": "Fresnel lighthouse lens"}
QRELS = [("q1", "d1", 1), ("q2", "d2", 1), ("q3", "d3", 2)]


def _beir(folder):
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "\n".join(json.dumps({"_id": i, "title": t, "text": x}) for i, (t, x) in DOCS.items()))
    (folder / "queries.jsonl").write_text("\n".join(json.dumps({"_id": i, "text": t}) for i, t in QUERIES.items()))
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "\n".join(f"{q}\t{d}\t{s}" for q, d, s in QRELS))
    return folder


def test_eval_retrieval_scores_every_method(tmp_path):
    folder = _beir(tmp_path / "tiny")
    result = rag(["eval", "retrieval", str(folder), "--json"], tmp_path / ".rag")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert set(scores) == {"lexical", "dense", "hybrid"}
    assert scores["lexical"]["ndcg@10"] == 1.0 and scores["hybrid"]["recall@10"] == 1.0
    assert scores["hybrid"]["n"] == 3 and scores["hybrid"]["latency_p95_ms"] > 0
    again = rag(["eval", "retrieval", str(folder), "--method", "lexical", "--json"], tmp_path / ".rag")
    assert json.loads(again.stdout)["ndcg@10"] == 1.0
    docs = json.loads(rag(["docs", "list", "-c", "beir-tiny", "--json"], tmp_path / ".rag").stdout)
    assert len(docs) == 4  # ingested once, reused
