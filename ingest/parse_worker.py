"""The parser process: reads JSON jobs (one per line) on stdin, writes JSON results on its own pipe.

Runs `unstructured` away from the ingester so that a file which hangs, explodes in memory or crashes the
parser costs one file, not the run. Its network access is cut off: parsing never leaves the machine.
Started by ingest.parser_pool with `python -m ingest.parse_worker`; JSON in and out, never pickle.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import sys
import traceback
from pathlib import Path

from ingest.filetypes import PDF_TYPES, ZIP_TYPES, content_problem, zip_expansion_problem


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


def parse_file(path: str, options: dict) -> dict:
    """Partition one file into elements: [{text, category, page, depth, html}]."""
    from unstructured.partition.auto import partition

    file = Path(path)
    with open(file, "rb") as handle:
        head = handle.read(8192)
    if not head:
        raise Refused("the file is empty")
    problem = content_problem(file, head)
    if problem:
        raise Refused(problem)
    ext = file.suffix.lower()
    pages = None
    if ext in ZIP_TYPES:
        problem = zip_expansion_problem(file, options["max_expand_bytes"])
        if problem:
            raise Refused(problem)
    if ext in PDF_TYPES:
        pages = _pdf_checks(file)
    kwargs = {"languages": options["languages"]}
    if ext in PDF_TYPES:
        kwargs["strategy"] = options["pdf_strategy"]
    try:
        raw = partition(filename=str(file), **kwargs)
    except MemoryError:
        raise
    except Exception as exc:  # unstructured raises many types; the reason is what matters here
        raise Refused(f"the parser could not read it ({type(exc).__name__}: {exc})") from exc
    elements = []
    for element in raw:
        text = (element.text or "").strip()
        if not text:
            continue
        meta = element.metadata
        elements.append(
            {
                "text": text,
                "category": element.category,
                "page": meta.page_number,
                "depth": meta.category_depth,
                "html": getattr(meta, "text_as_html", None),
                "filetype": meta.filetype,
            }
        )
    if not elements:
        if ext in PDF_TYPES:
            raise Refused(
                f"no extractable text: the PDF has {pages} page(s) but no text layer (a scan or image-only "
                "PDF?); OCR is not enabled"
            )
        raise Refused("no extractable text was found in the file")
    return {
        "elements": elements,
        "filetype": elements[0]["filetype"] or ext.lstrip("."),
        "parser": f"unstructured-{_unstructured_version()}",
        "pages": pages,
    }


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
        try:
            result = {"ok": parse_file(job["path"], options)}
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
