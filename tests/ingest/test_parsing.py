"""Real parsing (unstructured in worker processes, offline) of every format, and hostile files refused clearly."""

import os
import time

import pytest

from ingest.parser_pool import ParserPool, parser_options
from rag.settings import IngestSettings
from tests import docgen
from tests.conftest import SAMPLE

OPTIONS = parser_options(IngestSettings(parse_memory_mb=64))


def _parse(paths, tmp_path, timeout=60.0, memory_mb=1024):
    pool = ParserPool(1, timeout, memory_mb, OPTIONS, tmp_path / "parser.log")
    return {o.path.name: o for o in pool.parse([(p, p) for p in paths])}


def test_every_sample_format_parses_offline_with_structure(tmp_path):
    files = sorted(SAMPLE.iterdir())
    outcomes = _parse(files, tmp_path)
    assert {o.error for o in outcomes.values()} == {None}
    text = {name: " ".join(e["text"] for e in o.result["elements"]) for name, o in outcomes.items()}
    assert "Fresnel" in text["lighthouses.pdf"] and outcomes["lighthouses.pdf"].result["pages"] == 2
    assert "27 days of paid annual leave" in text["northwind-handbook.docx"]
    assert "41,000 copies" in text["q3-review.pptx"]
    assert "Cuxhaven" in text["tide-stations.csv"] and "Sonar" in text["survey-budget.xlsx"]
    assert "extension 4410" in text["maintenance-window.eml"]
    assert "29.5 days" in text["moon-phases.html"] and "waggle" in text["honeybees.md"]
    docx_categories = {e["category"] for e in outcomes["northwind-handbook.docx"].result["elements"]}
    assert {"Title", "NarrativeText", "Table"} <= docx_categories
    assert {e["page"] for e in outcomes["q3-review.pptx"].result["elements"]} == {1, 2, 3}


def test_hostile_and_broken_files_are_refused_with_the_reason(tmp_path):
    good_pdf = docgen.make_pdf(tmp_path / "good.pdf", [["Some text on a page."]])
    files = [
        docgen.truncate(good_pdf, tmp_path / "truncated.pdf", 0.4),
        docgen.make_scanned_pdf(tmp_path / "scanned.pdf"),
        docgen.make_encrypted_pdf(tmp_path / "encrypted.pdf", good_pdf),
        docgen.make_decompression_bomb_docx(tmp_path / "bomb.docx", expanded_mb=100),
        docgen.make_deep_html(tmp_path / "deep.html"),
    ]
    (tmp_path / "random.pdf").write_bytes(os.urandom(4000))
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04" + os.urandom(2000))
    (tmp_path / "empty.txt").write_bytes(b"")
    files += [tmp_path / "random.pdf", tmp_path / "broken.docx", tmp_path / "empty.txt"]
    outcomes = _parse(files, tmp_path)
    reasons = {name: o.error for name, o in outcomes.items()}
    assert all(o.result is None for o in outcomes.values()), reasons
    assert "damaged or truncated" in reasons["truncated.pdf"]
    assert "no text layer" in reasons["scanned.pdf"] and "2 page" in reasons["scanned.pdf"]
    assert "encrypted" in reasons["encrypted.pdf"]
    assert "decompression bomb" in reasons["bomb.docx"]
    assert "no extractable text" in reasons["deep.html"]
    assert "not a valid PDF" in reasons["random.pdf"]
    assert "damaged" in reasons["broken.docx"]
    assert "empty" in reasons["empty.txt"]


def test_a_file_that_parses_too_long_is_stopped_and_the_pool_goes_on(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("\n\n".join(f"Paragraph {i} says something about tides and maps." for i in range(60000)))
    small = tmp_path / "small.txt"
    small.write_text("A small file that parses quickly.")
    started = time.monotonic()
    outcomes = _parse([big, small], tmp_path, timeout=1.0)
    assert "longer than 1 s" in outcomes["big.txt"].error
    assert outcomes["small.txt"].error is None
    assert time.monotonic() - started < 30


def test_parsing_never_reaches_the_network(tmp_path):
    """The worker cuts its own network access, so no library can phone home while parsing."""
    probe = tmp_path / "probe.md"
    probe.write_text("# Title\n\nThe parser was run and it produced text.")
    outcome = _parse([probe], tmp_path)["probe.md"]
    assert outcome.error is None
    log = (tmp_path / "parser.log").read_text() if (tmp_path / "parser.log").exists() else ""
    assert "github.com" not in log and "Downloading" not in log


@pytest.mark.parametrize("name", ["a.md"])
def test_offline_nlp_pipeline_marks_narrative_text(tmp_path, name):
    path = tmp_path / name
    path.write_text("# Overview\n\nThe queen lays up to two thousand eggs a day during the season.")
    elements = _parse([path], tmp_path)[name].result["elements"]
    assert [e["category"] for e in elements] == ["Title", "NarrativeText"]


def test_a_consumer_that_stops_early_leaves_no_parser_running(tmp_path):
    files = []
    for i in range(80):
        path = tmp_path / f"f{i}.txt"
        path.write_text(f"File {i} is a short text about tides.")
        files.append(path)
    pool = ParserPool(1, 60.0, 1024, OPTIONS, tmp_path / "parser.log")
    outcomes = pool.parse([(p, p) for p in files])
    next(outcomes)
    time.sleep(3)  # let the dispatcher fill the queue and block
    outcomes.close()
    import subprocess

    mine = subprocess.run(["pgrep", "-P", str(os.getpid()), "-f", "ingest.parse_worker"],
                          capture_output=True, text=True).stdout.split()
    assert mine == []


def test_messages_that_arrive_together_are_all_read():
    """A progress message and the result written at once must both be read: select() does not wake again for
    a line already taken into a reader's buffer, and the file would then 'time out' with its result waiting."""
    import subprocess
    import sys

    from ingest.parser_pool import _Worker

    worker = object.__new__(_Worker)  # its pipe only, not a parser process
    worker.buffer = b""
    worker.process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdout.write("
                                       "'{\"progress\": true}\\n{\"ok\": 1}\\n{\"par'); sys.stdout.flush()"],
                                      stdout=subprocess.PIPE)
    worker.process.wait()
    assert worker.read_messages() == [{"progress": True}, {"ok": 1}]
    assert worker.buffer == b'{"par'
    worker.process.stdout.close()
