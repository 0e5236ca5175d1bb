"""Each page through streamlit's AppTest: chat (extractive and a scripted model), uploads (a broken file
included), evaluation reports and comparison, the system page. Text from documents and models stays inert."""

from __future__ import annotations

import shutil
import time

import pytest
from streamlit.testing.v1 import AppTest

from rag.answer.contract import ABSTENTION
from tests.ui.conftest import APP

LEAVE = "How many days of paid annual leave do employees get?"


def _text(at) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(str(e.label) for e in at.expander)


def _no_raw_html(at) -> None:
    assert all(not m.allow_html for m in at.markdown)


def test_chat_with_the_extractive_answerer_cites_and_abstains(ui_env):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    at.chat_input[0].set_value(LEAVE).run()
    text = _text(at)
    assert "27 days" in text and "\\[1\\]" in text
    assert any("Northwind" in str(e.label) for e in at.expander)  # the source card
    assert any(":orange-background[" in m.value and "27 days" in m.value for m in at.markdown)  # highlighted
    assert "groundedness 1.00" in text  # the badge
    at.chat_input[0].set_value("What is the capital of Australia?").run()
    assert ABSTENTION.rstrip(".") in _text(at) and "Closest passages found:" in [c.value for c in at.caption]
    assert any(b.label.startswith("What is the capital") or b.label.startswith(LEAVE[:40]) for b in at.button)
    _no_raw_html(at)


def test_chat_with_a_scripted_model_streams_and_keeps_html_inert(ui_env, monkeypatch):
    import common  # ui/common.py

    import rag.generation.model_files
    from rag.generation.generators import ScriptedGenerator

    generator = ScriptedGenerator(["<script>alert(1)</script> Every employee receives 27 days of paid annual "
                                   "leave [1]."] * 2, verdicts=[0.99] * 8)  # its checks say yes
    model = rag.generation.model_files.ActiveModel("model.gguf", ui_env.data_dir / "model.gguf", "0" * 64)
    monkeypatch.setattr(rag.generation.model_files, "active_model", lambda settings: model)
    monkeypatch.setattr(common, "generator", lambda path, sha256: generator)
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.radio(key="answerer_choice").set_value("model: model.gguf").run()
    at.chat_input[0].set_value(LEAVE).run()
    assert not at.exception
    text = _text(at)
    assert "\\<script\\>alert\\(1\\)\\</script\\>" in text and "27 days" in text
    assert generator.grammars and generator.grammars[0]  # citations enforced by the grammar
    _no_raw_html(at)


def _upload_and_ingest(files: list[tuple[str, bytes, str]], wait_s: int = 60) -> AppTest:
    """The Documents page with the files uploaded and "Ingest" pressed, once the background ingest reports."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("views/documents.py").run()
    assert not at.exception
    at.get("file_uploader")[0].set_value(files).run()
    at.button[0].click().run()
    for _ in range(wait_s):
        time.sleep(1)
        at.run()
        if any("ingested" in s.value for s in at.success):
            break
    return at


def test_uploads_ingest_in_the_background_and_a_broken_file_says_why(ui_env):
    at = _upload_and_ingest([("../../notes.txt", b"The harbour office opens at 07:30 on weekdays.", "text/plain"),
                             ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf")])
    assert any("1 ingested" in s.value for s in at.success), [s.value for s in at.success]
    assert any("broken.pdf" in w.value for w in at.warning)
    uploads = ui_env.data_dir / "uploads"
    assert [p.name for p in uploads.rglob("*.txt")] == ["notes.txt"]  # no path escaped the folder


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed")
def test_an_uploaded_scan_is_ocrd_and_its_doubtful_page_is_shown_to_check(ui_env, tmp_path):
    from tests import docgen

    paragraph = "The harbour board met on Tuesday and agreed to dredge the eastern channel before the storms."
    scan = docgen.make_image_pdf(tmp_path / "minutes.pdf", [[paragraph], [paragraph]], noise=[0.0, 0.03])
    at = _upload_and_ingest([("minutes.pdf", scan.read_bytes(), "application/pdf")], wait_s=90)
    assert any("1 ingested" in s.value for s in at.success), [s.value for s in at.success]
    table = at.dataframe[0].value
    row = table[table["document"] == "minutes.pdf"].iloc[0]
    assert row["pages"] == 2 and row["pages to check"].startswith("p.2 (OCR confidence")


def test_evaluation_runs_open_and_compare(ui_env):
    from rag.runs import save_run
    from rag.store import Store

    store = Store.open(ui_env.resolved_database_url)
    items = [{"id": str(i), "question": f"q{i}", "answer": "a", "f1": i / 10} for i in range(10)]
    first = save_run(store, ui_env, "answers", ui_env.data_dir, {"n": 10, "f1": 0.45}, items, 1.0)
    save_run(store, ui_env, "answers", ui_env.data_dir, {"n": 10, "f1": 0.55},
             [{**i, "f1": i["f1"] + 0.1} for i in items], 1.0)
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("views/evaluations.py").run()
    assert not at.exception
    assert at.selectbox[0].options and str(first) in at.selectbox[0].options
    compare = next(b for b in at.button if b.label == "Compare")
    compare.click().run()
    assert not at.exception and len(at.dataframe) >= 3


def test_system_page_shows_the_doctor_report(ui_env):
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("views/system.py").run()
    assert not at.exception
    assert at.json and "faiss" in at.json[0].value


def test_tuning_page_starts_a_job_and_shows_why_a_small_collection_cannot_be_tuned(ui_env):
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("views/tuning.py").run()
    assert not at.exception
    assert "No tuned models for this collection yet." in [c.value for c in at.caption]
    next(b for b in at.button if b.label == "Start tuning").click().run()
    for _ in range(60):
        if at.error:
            break
        time.sleep(1)
        at.run()
    assert not at.exception
    assert at.error and "at least 100" in at.error[0].value, [e.value for e in at.error]


def test_tuning_page_shows_a_tuned_model_and_reverts_it(ui_env, tmp_path):
    import common  # ui/common.py

    from evals.tuning.training import TrainConfig
    from evals.tuning.tuner import TuneOptions, tune_embedder
    from tests.evals.test_tuning import _corpus

    workspace = common.workspace()
    workspace.ingest([_corpus(tmp_path / "corpus", 160)], "papers")
    card = tune_embedder(workspace, "papers", TuneOptions(questions="heuristic", margin=-1.0, train=TrainConfig(
        batch_size=8, max_seq_length=64, max_steps=1)))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("views/tuning.py").run()
    at.selectbox(key="tune_collection").set_value("papers").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["status"]) == ["adopted"]
    shown = at.dataframe[1].value  # the before/after figures of the card
    assert round(float(shown["base"][0]), 4) == card["before"]["held_out"]["ndcg@10"]
    next(b for b in at.button if b.label == "Revert to the base model").click().run()
    assert not at.exception
    assert workspace.collections()[[c.name for c in workspace.collections()].index("papers")].embedding_model \
        == workspace.embedder.model_id
    _no_raw_html(at)
