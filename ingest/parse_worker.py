"""The parser process: reads JSON jobs (one per line) on stdin, writes JSON results on its own pipe.

Runs `unstructured` away from the ingester so that a file which hangs, explodes in memory or crashes the
parser costs one file, not the run. Its network access is cut off: parsing never leaves the machine.
Started by ingest.parser_pool with `python -m ingest.parse_worker`; JSON in and out, never pickle.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import socket
import sys
import tempfile
import traceback
from pathlib import Path

from ingest import mail, ocr, office
from ingest.elements import element
from ingest.encodings import SAMPLE_BYTES, detect_encoding, read_text
from ingest.filetypes import (CODE_LANGUAGES, IMAGE_TYPES, JSON_TYPES, JSONL_TYPES, PDF_TYPES, ZIP_TYPES,
                              TEXT_KINDS, ContentRefused, content_kind, supported, zip_expansion_problem)
from ingest.structured import code_elements, json_elements, tolerant_csv_elements

MAX_ATTACHMENT_DEPTH = 2  # a mail attached to a mail is read; one more level is not
# An encoding named in an XML declaration or an HTML meta tag, rewritten when the text is re-encoded as UTF-8.
_DECLARED_ENCODING = re.compile(r"""((?:<\?xml[^>]*?encoding|charset)\s*=\s*["']?)[\w.:-]+""", re.IGNORECASE)


class Refused(Exception):
    """A file that cannot be parsed; the message is the reason shown to the user."""


def _cut_network() -> None:
    def refuse(*_args, **_kwargs):
        raise OSError("network access is disabled while parsing documents")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]


def _cap_memory(extra_mb: int) -> None:
    """Allow the address space in use now (imports) plus extra_mb."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[0])
    limit = pages * os.sysconf("SC_PAGE_SIZE") + extra_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _pdf_checks(path: Path) -> int:
    """Page count of a readable, unencrypted PDF; Refused otherwise."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Refused("the PDF is encrypted (password protected); decrypt it first, e.g. `qpdf --decrypt`")
        return len(reader.pages)
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise Refused(f"the PDF is damaged or truncated ({exc})") from exc


def parse_file(path: str, options: dict, progress=lambda: None) -> dict:
    """Partition one file into elements: [{text, category, page, depth, html, filetype, ocr?}], with notes on
    what was skipped or read another way. progress() is called after each slow step (an OCR'd page)."""
    with tempfile.TemporaryDirectory(prefix="groundwork-parse-") as tmp:
        result = _parse(Path(path), options, Path(tmp), progress, depth=0)
    if not result["elements"]:
        raise Refused(result.get("empty_reason") or "no extractable text was found in the file")
    result.pop("empty_reason", None)
    return result


def _parse(file: Path, options: dict, workdir: Path, progress, depth: int) -> dict:
    with open(file, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if not head:
        raise Refused("the file is empty")
    try:
        kind = content_kind(file, head)
    except ContentRefused as exc:
        raise Refused(str(exc)) from exc
    notes = []
    if kind != file.suffix.lower():
        notes.append(f"read as {kind[1:].upper()}: that is what its content is, whatever its name says")
    name = file.name  # titles keep it when the content is read from a converted copy
    encoding = detect_encoding(head) if kind in TEXT_KINDS else None
    if encoding not in (None, "utf-8", "ascii"):
        file = _as_utf8(file, kind, encoding, workdir)
        notes.append(f"text encoding {encoding}")
    if kind in IMAGE_TYPES:
        result = _image(file, options, progress)
    elif kind in JSON_TYPES or kind in JSONL_TYPES:
        result = _json(file, Path(name).stem)
    elif kind in CODE_LANGUAGES:
        language = CODE_LANGUAGES[kind]
        result = {"elements": code_elements(read_text(file), name, language), "filetype": language,
                  "parser": "groundwork-code", "pages": None}
    elif kind in office.MODERN:
        if kind in ZIP_TYPES and (problem := zip_expansion_problem(file, options["max_expand_bytes"])):
            raise Refused(problem)
        progress()  # the conversion has its own limit, inside the pool's (which would leave soffice running)
        try:
            converted = office.convert(file, kind, workdir,
                                       min(options["convert_timeout_s"], 0.9 * options["parse_timeout_s"]))
        except office.ConversionFailed as exc:
            raise Refused(str(exc)) from exc
        result = _unstructured(converted, "." + office.MODERN[kind], options, workdir, progress)
        result["filetype"], result["parser"] = kind[1:], f"libreoffice+{result['parser']}"
    elif kind in (".eml", ".msg"):
        result = _mail(file, kind, options, workdir, progress, depth)
    else:
        if kind != file.suffix.lower():
            file = _copy_as(file, kind, workdir)
        result = _unstructured(file, kind, options, workdir, progress)
    result["notes"] = notes + result.get("notes", [])
    return result


def _as_utf8(file: Path, kind: str, encoding: str, workdir: Path) -> Path:
    """A UTF-8 copy of a text file in another encoding (the parsers assume UTF-8), its declarations updated."""
    text = file.read_bytes().decode(encoding, errors="replace").lstrip("\ufeff")
    text = _DECLARED_ENCODING.sub(r"\1utf-8", text[:4096]) + text[4096:]
    target = workdir / f"utf8-{len(list(workdir.iterdir()))}{kind}"
    target.write_text(text, encoding="utf-8")
    return target


def _copy_as(file: Path, kind: str, workdir: Path) -> Path:
    target = workdir / f"content-{len(list(workdir.iterdir()))}{kind}"
    shutil.copyfile(file, target)
    return target


def _json(file: Path, title: str) -> dict:
    """A JSON document flattened to text; a file of one JSON value per line (often named .json) as well."""
    text = read_text(file)
    try:
        elements = json_elements(text, title)
    except json.JSONDecodeError as exc:
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            elements = json_elements("[" + ",".join(lines) + "]", title) if len(lines) > 1 else None
        except json.JSONDecodeError:
            elements = None
        if elements is None:
            raise Refused(f"it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from exc
    return {"elements": elements, "filetype": "json", "parser": "groundwork-json", "pages": None}


def _image(file: Path, options: dict, progress) -> dict:
    languages = _ocr_languages(options)
    try:
        elements = ocr.ocr_image_file(file, languages, progress)
    except ValueError as exc:
        raise Refused(str(exc)) from exc
    return {"elements": elements, "filetype": file.suffix.lower().lstrip("."), "parser": _tesseract(),
            "pages": max((e["page"] for e in elements), default=1),
            "empty_reason": "OCR found no text in the image"}


def _ocr_languages(options: dict) -> str:
    if not options["ocr"]:
        raise Refused("images are read by OCR, which is off (RAG_INGEST__OCR=false)")
    try:
        return ocr.check_languages(options["ocr_languages"])
    except ocr.OcrUnavailable as exc:
        raise Refused(str(exc)) from exc


def _unstructured(file: Path, kind: str, options: dict, workdir: Path, progress) -> dict:
    from unstructured.partition.auto import partition

    pages = None
    if kind in ZIP_TYPES:
        problem = zip_expansion_problem(file, options["max_expand_bytes"])
        if problem:
            raise Refused(problem)
    if kind in PDF_TYPES:
        pages = _pdf_checks(file)
    kwargs = {"languages": options["languages"]}
    if kind in PDF_TYPES:
        kwargs["strategy"] = options["pdf_strategy"]
    notes = []
    try:
        raw = partition(filename=str(file), **kwargs)
    except MemoryError:
        raise
    except Exception as exc:  # unstructured raises many types; the reason is what matters here
        if kind not in (".csv", ".tsv"):
            raise Refused(f"the parser could not read it ({type(exc).__name__}: {exc})") from exc
        raw = []  # a CSV pandas refuses (ragged rows): read it with the tolerant reader below
        notes.append(f"read with the tolerant CSV reader (the strict one said: {type(exc).__name__}: "
                     f"{' '.join(str(exc).split())[:200]})")
        elements = tolerant_csv_elements(read_text(file), "\t" if kind == ".tsv" else None)
    else:
        elements = [_from_unstructured(e) for e in raw if (e.text or "").strip()]
    result = {"elements": elements, "filetype": (elements[0]["filetype"] if elements else None) or kind[1:],
              "parser": f"unstructured-{_unstructured_version()}", "pages": pages, "notes": notes}
    if kind in PDF_TYPES:
        _ocr_pdf(file, result, options, progress)
    if kind in (".docx", ".pptx") and options["ocr"]:
        _ocr_pictures(file, kind, result, options, progress)
    return result


def _ocr_pictures(file: Path, kind: str, result: dict, options: dict, progress) -> None:
    """The text of the document's pictures (`ingest.embedded_images`), when Tesseract is there to read it."""
    from ingest.embedded_images import picture_elements, pictures

    placed = pictures(file, kind)
    if not placed:
        return
    try:
        languages = ocr.check_languages(options["ocr_languages"])
    except ocr.OcrUnavailable as exc:
        result["notes"].append(f"its {len(placed)} picture(s) were not read: {exc}")
        return
    found, notes = picture_elements(file, kind, placed, languages, progress)
    result["notes"] += notes
    if not found:
        return
    result["parser"] += f"+{_tesseract()}"
    if kind == ".pptx":  # each slide's pictures after the slide's own text
        result["elements"] = sorted(result["elements"] + found, key=lambda e: e["page"] or 0)
    else:
        result["elements"] += found


def _from_unstructured(found) -> dict:
    meta = found.metadata
    return {"text": found.text.strip(), "category": found.category, "page": meta.page_number,
            "depth": meta.category_depth, "html": getattr(meta, "text_as_html", None), "filetype": meta.filetype}


def _ocr_pdf(file: Path, result: dict, options: dict, progress) -> None:
    """OCR the pages whose text layer holds (almost) nothing: a scan, or scanned pages inside a text PDF."""
    pages = result["pages"] or 0
    chars = {n: 0 for n in range(1, pages + 1)}
    for element in result["elements"]:
        if element["page"] in chars:
            chars[element["page"]] += len(element["text"])
    bare = [n for n, count in chars.items() if count < options["min_page_chars"]]
    if not bare:
        return
    result["empty_reason"] = (f"no extractable text: the PDF has {pages} page(s) but no text layer (a scan or "
                              "image-only PDF?)")
    try:
        languages = _ocr_languages(options)
    except Refused as exc:
        result["empty_reason"] += f", and it cannot be OCR'd: {exc}"
        result["notes"].append(f"{len(bare)} page(s) without a text layer were not OCR'd: {exc}")
        return
    scanned = ocr.ocr_pdf_pages(file, bare, languages, options["ocr_dpi"], progress)
    by_page: dict[int, list[dict]] = {}
    for element in scanned:
        by_page.setdefault(element["page"], []).append(element)
    better = {n for n, found in by_page.items() if sum(len(e["text"]) for e in found) > chars[n]}
    kept = [e for e in result["elements"] if e["page"] not in better]
    result["elements"] = sorted(kept + [e for n in better for e in by_page[n]], key=lambda e: e["page"] or 0)
    result["parser"] += f"+{_tesseract()}"
    result["empty_reason"] += f"; OCR found no text on its {len(bare)} page(s) without one either"


def _mail(file: Path, kind: str, options: dict, workdir: Path, progress, depth: int) -> dict:
    from unstructured.partition.auto import partition

    try:
        raw = partition(filename=str(file), languages=options["languages"], process_attachments=False)
    except Exception as exc:
        raise Refused(f"the parser could not read the mail ({type(exc).__name__}: {exc})") from exc
    elements = [_from_unstructured(e) for e in raw if (e.text or "").strip()]
    subject = (getattr(raw[0].metadata, "subject", None) or "").strip() if raw else ""
    if subject:  # the mail's title, and the heading its attachments' headings sit beside
        elements.insert(0, element(subject, "Title", depth=0))
    notes = []
    try:
        found = list(mail.attachments(file, kind))
    except Exception as exc:  # a damaged attachment section costs the attachments, not the mail
        found = []
        notes.append(f"the attachments could not be read ({type(exc).__name__}: {exc})")
    allowed = supported(options["code_files"])
    for number, (name, data) in enumerate(found[:mail.MAX_ATTACHMENTS], start=1):
        target = workdir / mail.safe_name(name, number)
        target.write_bytes(data)
        if depth >= MAX_ATTACHMENT_DEPTH or target.suffix.lower() not in allowed:
            why = "nested too deep" if depth >= MAX_ATTACHMENT_DEPTH else f"unsupported file type {target.suffix}"
            notes.append(f"attachment {name!r} skipped: {why}")
            continue
        inner = workdir / f"attachment-{number}"
        inner.mkdir()
        try:
            attached = _parse(target, options, inner, progress, depth + 1)
        except Refused as exc:
            notes.append(f"attachment {name!r} skipped: {exc}")
            continue
        if not attached["elements"]:
            notes.append(f"attachment {name!r} skipped: no extractable text")
            continue
        elements.append(element(f"Attachment: {name}", "Title", depth=0))
        # Its headings sit under the attachment's; its pages are not the mail's.
        elements += [{**e, "page": None, "depth": (e["depth"] or 0) + 1 if e["category"] == "Title" else e["depth"]}
                     for e in attached["elements"]]
        notes += [f"attachment {name!r}: {note}" for note in attached.get("notes", [])]
    if len(found) > mail.MAX_ATTACHMENTS:
        notes.append(f"only the first {mail.MAX_ATTACHMENTS} of {len(found)} attachments were read")
    return {"elements": elements, "filetype": kind[1:], "parser": f"unstructured-{_unstructured_version()}",
            "pages": None, "notes": notes}


def _tesseract() -> str:
    import pytesseract

    return f"tesseract-{pytesseract.get_tesseract_version()}"


def _unstructured_version() -> str:
    from unstructured.__version__ import __version__

    return __version__


def main() -> None:
    options = json.loads(sys.argv[1])
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything a library prints goes to the log, not into the protocol
    _cut_network()
    from ingest.nlp_offline import keep_unstructured_offline

    keep_unstructured_offline()
    # Import the partitioners before capping memory: the cap is meant for parsing, and the PDF partitioner's
    # imports alone reserve about 1.8 GB of address space (measured), which a lazy import would charge to the
    # first PDF.
    import unstructured.partition.auto  # noqa: F401
    import unstructured.partition.html  # noqa: F401
    import unstructured.partition.pdf  # noqa: F401

    _cap_memory(options["memory_mb"])
    protocol.write(json.dumps({"ready": True}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        job = json.loads(line)
        def progress() -> None:  # each OCR'd page restarts the pool's per-step time limit
            protocol.write(json.dumps({"progress": True}) + "\n")
            protocol.flush()

        try:
            result = {"ok": parse_file(job["path"], options, progress)}
        except Refused as exc:
            result = {"error": str(exc)}
        except MemoryError:
            result = {"error": f"parsing needed more than {options['memory_mb']} MB of memory "
                               "(RAG_INGEST__PARSE_MEMORY_MB)"}
        except Exception as exc:  # a parser bug must cost one file, never the run
            traceback.print_exc()
            result = {"error": f"the parser failed ({type(exc).__name__}: {exc})"}
        protocol.write(json.dumps(result) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
