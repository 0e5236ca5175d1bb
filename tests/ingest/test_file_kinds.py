"""The files people really have: other text encodings, legacy Office, scans and images, generic JSON, ragged
CSV, mail with an attachment nobody can read, misnamed files, source code. Each is ingested by the real
pipeline (unstructured, LibreOffice, Tesseract in the parser processes; real SQLite and FAISS) and its text is
found by search."""

import json
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from ingest.pipeline import Ingester
from rag.answer.contract import citations_for, describe_source
from rag.embedder import FakeEmbedder
from rag.retrieval.hybrid import HybridRetriever
from rag.store import Chunk, Document, Store
from tests import docgen
from tests.conftest import make_settings

needs_soffice = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed "
                                   "(scripts/system-deps.sh installs it)")
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed "
                                     "(scripts/system-deps.sh installs it)")
FIXTURES = Path(__file__).parent.parent / "fixtures"
LINES = "The lighthouse keeper logged 412 ships in March.\n\nFog horns sounded for nine hours on the 3rd."


def _write_text_kinds(folder):
    for codec, name in [("utf-16", "utf16-bom.txt"), ("utf-16-le", "utf16-nobom.txt"),
                        ("utf-32", "utf32-bom.txt"), ("utf-32-be", "utf32-nobom.txt")]:
        (folder / name).write_bytes(LINES.replace("lighthouse", f"lighthouse{name[:7]}").encode(codec))
    (folder / "harbour.html").write_bytes(
        '<?xml version="1.0" encoding="UTF-16"?><html><head><meta charset="utf-16"></head><body>'
        "<p>The harbour master counted 77 trawlers at dawn.</p></body></html>".encode("utf-16"))
    (folder / "stations.csv").write_bytes("station,level\nKiel,3.1\nWarnemünde,2.7\n".encode("utf-16"))
    (folder / "notice.eml").write_bytes(
        "From: a@example.org\nTo: b@example.org\nSubject: Notice\n\nThe quay closes for dredging on Friday.\n"
        .encode("utf-32"))
    (folder / "legacy.txt").write_bytes("Café owners in Zürich paid €4,200 in rent.".encode("cp1252"))
    (folder / "limits.json").write_bytes(json.dumps({"quota": {"daily_uploads": 40}}).encode("utf-16"))


def _search(store, collection, query):
    with store.session() as session:
        coll = store.collection(session, collection)
        hits = store.lexical_search(coll.id, query, 5)
        return [(session.get(Chunk, cid).text, session.get(Document, session.get(Chunk, cid).document_id))
                for cid, _ in hits]


@pytest.fixture
def ingest(tmp_path):
    settings = make_settings(tmp_path / ".rag")
    store = Store.open(settings.resolved_database_url)

    def run(folder, **ingest_settings):
        chosen = settings.model_copy(update={"ingest": settings.ingest.model_copy(update=ingest_settings)})
        return Ingester(chosen, store, FakeEmbedder()).run([folder], "kinds"), store

    run.settings = settings
    return run


def test_text_in_utf16_utf32_and_legacy_encodings_is_ingested(tmp_path, ingest):
    folder = tmp_path / "texts"
    folder.mkdir()
    _write_text_kinds(folder)
    summary, store = ingest(folder)
    assert summary.failed == [] and summary.ingested == 9
    for name in ("utf16-b", "utf16-n", "utf32-b", "utf32-n"):
        assert any("412 ships" in text for text, _ in _search(store, "kinds", f"lighthouse{name}"))
    assert "77 trawlers" in _search(store, "kinds", "harbour trawlers")[0][0]
    assert "Warnemünde" in _search(store, "kinds", "Warnemünde")[0][0]
    assert "dredging" in _search(store, "kinds", "quay dredging")[0][0]
    text, document = _search(store, "kinds", "Zürich rent")[0]
    assert "Café owners in Zürich paid €4,200" in text and "cp1252" in " ".join(document.notes)
    text, document = _search(store, "kinds", "daily_uploads")[0]
    assert "daily_uploads: 40" in text and document.title == "limits"  # named after the file, not its copy


@needs_soffice
def test_legacy_office_and_misnamed_files_are_read_by_their_content(tmp_path, ingest):
    made = tmp_path / "made"
    made.mkdir()
    docgen.make_docx(made / "memo.docx", [("h1", "Ferry memo"), ("p", "The ferry carried 9,300 passengers.")])
    docgen.make_pptx(made / "deck.pptx", [("Tug fleet", ["Seven tugs were serviced in dry dock."])])
    docgen.make_xlsx(made / "fuel.xlsx", "Fuel", [["vessel", "litres"], ["Albatross", 5120]])
    folder = tmp_path / "office"
    folder.mkdir()
    docgen.convert_with_libreoffice(made / "memo.docx", folder / "memo.doc")
    docgen.convert_with_libreoffice(made / "deck.pptx", folder / "deck.ppt")
    docgen.convert_with_libreoffice(made / "fuel.xlsx", folder / "fuel.xls")
    docgen.make_xlsx(made / "berths.xlsx", "Berths", [["berth", "length"], ["Kingfisher quay", 212]])
    docgen.convert_with_libreoffice(made / "berths.xlsx", folder / "berths.ods")  # OpenDocument
    docgen.make_pptx(made / "dredge.pptx", [("Dredging", ["The channel was dredged to 14 metres."])])
    docgen.convert_with_libreoffice(made / "dredge.pptx", folder / "dredge.odp")
    shutil.copy(made / "memo.docx", folder / "renamed.doc")  # a .docx named .doc
    shutil.copy(made / "deck.pptx", folder / "slides.docx")  # a .pptx named .docx
    (folder / "page.doc").write_text("<html><body><p>Word saved this page as HTML with 31 rows.</p></body></html>")
    summary, store = ingest(folder)
    assert summary.failed == [] and summary.ingested == 8
    assert {d.filetype for _, d in _search(store, "kinds", "ferry passengers")} >= {"doc"}
    assert "212" in _search(store, "kinds", "Kingfisher quay")[0][0]
    text, document = _search(store, "kinds", "channel dredged metres")[0]
    assert "14 metres" in text and document.filetype == "odp" and document.parser.startswith("libreoffice")
    assert "Seven tugs" in _search(store, "kinds", "tugs dry dock")[0][0]
    assert "Albatross" in _search(store, "kinds", "Albatross")[0][0]
    notes = {d.source.rsplit("/", 1)[1]: d.notes for _, d in _search(store, "kinds", "ferry memo tugs")}
    assert "read as DOCX" in notes["renamed.doc"][0] and "read as PPTX" in notes["slides.docx"][0]
    assert "31 rows" in _search(store, "kinds", "HTML rows")[0][0]


@pytest.fixture
def word97_folder(tmp_path):
    """A folder holding one real .doc (Word 97-2003, made by LibreOffice)."""
    folder = tmp_path / "office"
    folder.mkdir()
    docgen.make_docx(tmp_path / "memo.docx", [("p", "Anything.")])
    docgen.convert_with_libreoffice(tmp_path / "memo.docx", folder / "memo.doc")
    return folder


@needs_soffice
def test_without_libreoffice_legacy_office_is_refused_with_the_command_to_run(word97_folder, ingest, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # the parser processes inherit it: no soffice to find
    summary, _ = ingest(word97_folder)
    [failure] = summary.failed
    assert "need LibreOffice" in failure["reason"] and "apt-get install libreoffice" in failure["reason"]


@needs_soffice
def test_a_conversion_that_hangs_is_stopped_by_its_own_time_limit(tmp_path, word97_folder, ingest, monkeypatch):
    stuck = tmp_path / "bin"
    stuck.mkdir()
    (stuck / "soffice").write_text("#!/bin/sh\nsleep 120\n")
    (stuck / "soffice").chmod(0o755)
    monkeypatch.setenv("PATH", f"{stuck}:/usr/bin:/bin")
    started = time.monotonic()
    summary, _ = ingest(word97_folder, convert_timeout_s=2)
    [failure] = summary.failed
    assert "LibreOffice took longer than 2 s" in failure["reason"] and time.monotonic() - started < 60


@needs_tesseract
def test_scans_and_images_are_ocrd_with_their_pages_and_confidence(tmp_path, ingest):
    folder = tmp_path / "scans"
    folder.mkdir()
    docgen.make_image_pdf(folder / "scan.pdf", [["The swing bridge opened to traffic in 1932."],
                                                ["Engineers replaced its gears in 1987."]])
    docgen.make_image(folder / "whiteboard.png", ["The warehouse stores 5,600 pallets of coffee."])
    docgen.make_image(folder / "receipt.jpg", ["Invoice 88314 was paid by the harbour office."])
    shutil.copy(FIXTURES / "ferry.heic", folder / "IMG_0042.HEIC")  # a phone photo
    summary, store = ingest(folder)
    assert summary.failed == [] and summary.ingested == 4
    text, document = _search(store, "kinds", "gears replaced")[0]
    assert "1987" in text and document.page_count == 2 and "tesseract" in document.parser
    with store.session() as session:
        chunk = session.scalars(select(Chunk).where(Chunk.document_id == document.id)
                                .where(Chunk.page_end == 2)).first()
    assert chunk.ocr_confidence and chunk.ocr_confidence > 60
    assert document.page_stats["2"]["ocr_confidence"] > 60
    assert "5,600 pallets" in _search(store, "kinds", "warehouse pallets")[0][0]
    assert "88314" in _search(store, "kinds", "invoice harbour office")[0][0]
    assert "every 35 minutes" in _search(store, "kinds", "ferry timetable boats")[0][0]
    # An answer's sources say when they were read from a scan, so the reader knows to check the original.
    retriever = HybridRetriever.open(store, ingest.settings, FakeEmbedder(), "kinds")
    [first, *_] = citations_for(retriever.retrieve("When were the swing bridge gears replaced?", k=2))
    assert first.document.endswith("scan.pdf") and first.ocr_confidence > 60
    assert "OCR confidence" in describe_source(first)


@needs_tesseract
def test_text_in_the_pictures_of_word_and_powerpoint_files_is_read(tmp_path, ingest):
    folder = tmp_path / "pictures"
    folder.mkdir()
    scan = docgen.make_image(tmp_path / "scan.png", ["The boiler room key hangs in cabinet 47 of the east wing."])
    chart = docgen.make_image(tmp_path / "chart.png", ["Ferry passengers rose to 81,300 in the third quarter."])
    logo = docgen.make_image(tmp_path / "logo.png", ["ACME"])
    docgen.make_docx(folder / "facilities.docx", [("h1", "Facilities"), ("p", "Keys are kept as shown below."),
                                                  ("picture", str(scan)), ("picture", str(logo))])
    docgen.make_pptx(folder / "quarter.pptx", [("Overview", ["A quiet quarter."]), ("Passengers", ["See chart."])],
                     pictures={2: chart})
    summary, store = ingest(folder)
    assert summary.failed == [] and summary.ingested == 2
    text, document = _search(store, "kinds", "boiler room key cabinet")[0]
    assert "cabinet 47" in text and document.source.endswith("facilities.docx") and "tesseract" in document.parser
    assert any("1 picture(s) read by OCR" in note for note in document.notes)  # the logo's one word is left out
    text, deck = _search(store, "kinds", "ferry passengers quarter")[0]
    assert "81,300" in text and deck.source.endswith("quarter.pptx")
    with store.session() as session:
        chunks = session.scalars(select(Chunk).where(Chunk.document_id.in_([document.id, deck.id]))).all()
        picture, = [c for c in chunks if "cabinet 47" in c.text]
        typed, = [c for c in chunks if "Keys are kept" in c.text]
        slide, = [c for c in chunks if "81,300" in c.text]
    assert picture.ocr_confidence > 60 and picture.section_path[-1] == "Text in pictures (read by OCR)"
    assert typed.ocr_confidence is None  # the Word document's own text was not OCR'd
    assert slide.ocr_confidence > 60 and slide.page_end == 2  # the picture's slide


def test_without_tesseract_a_word_file_with_pictures_is_ingested_with_a_note(tmp_path, ingest, monkeypatch):
    folder = tmp_path / "pictures"
    folder.mkdir()
    scan = docgen.make_image(tmp_path / "scan.png", ["The boiler room key hangs in cabinet 47."])
    docgen.make_docx(folder / "keys.docx", [("p", "Keys are kept as shown below."), ("picture", str(scan))])
    docgen.make_docx(folder / "plain.docx", [("p", "No pictures in this one.")])
    monkeypatch.setenv("PATH", "/nonexistent")  # the parser processes inherit it: no tesseract to find
    summary, store = ingest(folder)
    assert summary.failed == [] and summary.ingested == 2
    keys, plain = _search(store, "kinds", "keys kept")[0][1], _search(store, "kinds", "no pictures")[0][1]
    assert keys.source.endswith("keys.docx") and plain.source.endswith("plain.docx")
    assert any("1 picture(s) were not read: OCR needs Tesseract" in note for note in keys.notes)
    assert not any("picture" in note for note in plain.notes or [])  # nothing to say about a file without any


@needs_tesseract
def test_a_doubtful_scan_is_flagged_not_silently_kept(tmp_path, ingest):
    from rag.library import flagged_pages

    folder = tmp_path / "noisy"
    folder.mkdir()
    paragraph = "The harbour board met on Tuesday and agreed to dredge the eastern channel before the storms."
    docgen.make_image_pdf(folder / "faded.pdf", [[paragraph], [paragraph]], noise=[0.0, 0.03])
    summary, store = ingest(folder)
    assert summary.failed == []
    with store.session() as session:
        document = session.scalars(select(Document)).one()
    stats = document.page_stats
    assert stats["1"]["ocr_confidence"] > 90 and stats["2"]["ocr_confidence"] < 75
    flagged = flagged_pages(stats, make_settings(tmp_path).ingest)
    assert list(flagged) == ["2"] and flagged["2"].startswith("OCR confidence")


def test_json_csv_mail_and_code_are_ingested_as_text(tmp_path, ingest):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "service.json").write_text(json.dumps(
        {"service": {"name": "tide-api", "replicas": 3}, "owners": ["Ana Lima", "Bo Chen"],
         "alerts": [{"channel": "pager", "threshold_ms": 750}]}))
    (folder / "export.json").write_text("\n".join(json.dumps({"event": e, "user": u}) for e, u in
                                                  [("login", "marta"), ("upload", "jonas")]))
    (folder / "levels.csv").write_text("station,level\nCuxhaven,3.1\nHelgoland,2.7,gauge broken,recheck\nBremen\n")
    docgen.make_eml_with_attachments(folder / "visit.eml", "The inspection is on Thursday at gate 7.",
                                     [("voicemail.wav", docgen.wav_bytes(), "audio/wav"),
                                      ("agenda.txt", b"Agenda: inspect crane number 12.", "text/plain")])
    (folder / "deploy.py").write_text("def deploy(region):\n    \"\"\"Ships the tide service to a region.\"\"\"\n"
                                      "    return region\n")
    (folder / "pool.yaml").write_text("database:\n  pool_size: 12\n")
    summary, store = ingest(folder)
    assert summary.failed == [] and summary.ingested == 6
    assert "name: tide-api\nreplicas: 3" in _search(store, "kinds", "replicas")[0][0]
    assert "1 > threshold_ms: 750" in _search(store, "kinds", "pager threshold_ms")[0][0]
    assert "jonas" in _search(store, "kinds", "upload jonas")[0][0]
    assert "gauge broken" in _search(store, "kinds", "Helgoland gauge")[0][0]
    text, mail = _search(store, "kinds", "crane agenda")[0]
    assert "crane number 12" in text and any("voicemail.wav" in n and "skipped" in n for n in mail.notes)
    noted = {item["path"].rsplit("/", 1)[1]: item["notes"] for item in summary.noted}  # told in the summary too
    assert "voicemail.wav" in noted["visit.eml"][0] and "tolerant CSV reader" in noted["levels.csv"][0]
    assert "gate 7" in _search(store, "kinds", "inspection Thursday gate")[0][0]
    code, document = _search(store, "kinds", "deploy region tide")[0]
    assert "def deploy(region)" in code and document.filetype == "python"
    assert _search(store, "kinds", "pool_size")[0][1].filetype == "yaml"
    again, _ = ingest(folder, code_files=False)
    assert {f["path"].rsplit("/", 1)[1] for f in again.failed} == {"deploy.py", "pool.yaml"}
    assert all("RAG_INGEST__CODE_FILES" in f["reason"] for f in again.failed)


@needs_tesseract
def test_bench_ocr_measures_speed_and_character_error_rate(tmp_path):
    from tests.ingest.test_cli import rag

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps({"_id": str(n), "text": text}) for n, text in enumerate([
        "Tidal gauges along the coast recorded a surge of 1.4 metres during the February storm.",
        "The survey vessel mapped 312 square kilometres of seabed with a multibeam echo sounder."])))
    result = rag(["bench", "ocr", "--source", str(corpus), "--pages", "2", "--noise", "0,0.03"], tmp_path / ".rag")
    assert result.returncode == 0, result.stderr
    clean, noisy = json.loads(result.stdout)["levels"]
    assert clean["pages"] == 2 and clean["failed"] == 0 and clean["pages_per_s"] > 0
    assert clean["cer_mean"] < 0.02 < noisy["cer_mean"]  # clean print reads almost exactly; speckle costs
    assert clean["confidence_mean"] > noisy["confidence_mean"]
