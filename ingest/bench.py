"""`rag bench ingest`: ingest a corpus built from a BEIR corpus.jsonl as files of several formats, and
compare the pipeline with a bare `encode` of the same chunks. Prints JSON."""

from __future__ import annotations

import html
import json
import resource
import tempfile
import time
from pathlib import Path

import typer

from ingest.pipeline import Ingester
from rag.cli import command_group
from rag.cli.context import context
from rag.machine import machine_note
from rag.runs import flat_metrics, save_run
from rag.store import Store
from rag.text import embed_text

FORMATS = ("txt", "md", "html", "docx", "pdf")


def bench_group(app: typer.Typer) -> typer.Typer:
    """`rag bench ...`: every benchmark, from whichever package, joins this group."""
    return command_group(app, "bench", "Benchmarks (print JSON).")


def register(app: typer.Typer) -> None:
    from ingest.bench_ocr import bench_ocr

    group = bench_group(app)
    group.command("ingest")(bench_ingest)
    group.command("ocr")(bench_ocr)


def _records(source: Path, limit: int) -> list[dict]:
    rows = []
    with open(source, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row.get("text"):
                rows.append(row)
            if len(rows) == limit:
                break
    return rows


def write_corpus(records: list[dict], folder: Path, per_file: int, formats: tuple[str, ...] = FORMATS) -> int:
    """Writes the records as files rotating through formats; returns the number of files."""
    folder.mkdir(parents=True, exist_ok=True)
    groups = [records[i:i + per_file] for i in range(0, len(records), per_file)]
    for number, group in enumerate(groups):
        kind = formats[number % len(formats)]
        path = folder / f"part{number:04}.{kind}"
        if kind == "txt":
            path.write_text("\n\n".join(f"{r['title']}\n\n{r['text']}" for r in group))
        elif kind == "md":
            path.write_text("\n\n".join(f"## {r['title']}\n\n{r['text']}" for r in group))
        elif kind == "html":
            body = "".join(f"<h2>{html.escape(r['title'])}</h2><p>{html.escape(r['text'])}</p>" for r in group)
            path.write_text(f"<html><body>{body}</body></html>")
        elif kind == "docx":
            import docx

            document = docx.Document()
            for r in group:
                document.add_heading(r["title"], level=2)
                document.add_paragraph(r["text"])
            document.save(path)
        else:
            _write_pdf(path, group)
    return len(groups)


def _write_pdf(path: Path, group: list[dict]) -> None:
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    story = []
    for r in group:
        story += [Paragraph(html.escape(r["title"]), styles["Heading2"]),
                  Paragraph(html.escape(r["text"]), styles["BodyText"]), PageBreak()]
    SimpleDocTemplate(str(path)).build(story)


def bench_ingest(
    ctx: typer.Context,
    source: Path = typer.Option(Path("../shared/data/retrieval/scifact/corpus.jsonl"), help="A BEIR corpus.jsonl."),
    docs: int = typer.Option(1000, help="How many records to use."),
    per_file: int = typer.Option(10, help="Records per generated file."),
    formats: str = typer.Option(",".join(FORMATS), help=f"File formats to rotate through, of {', '.join(FORMATS)}."),
    workers: int = typer.Option(0, help="Parser processes (0: settings)."),
) -> None:
    """Ingest throughput, the embedding share, the overhead over a bare encode of the same chunks, the ratio to a
    bare fp32 encode of the records themselves (what quick-start pipelines cost), and peak memory."""
    app = context(ctx)
    if not source.exists():
        raise typer.BadParameter(f"{source} not found; pass --source PATH/TO/corpus.jsonl", param_hint="--source")
    kinds = tuple(f.strip() for f in formats.split(",") if f.strip())
    if not kinds or set(kinds) - set(FORMATS):
        raise typer.BadParameter(f"formats are among {', '.join(FORMATS)}", param_hint="--formats")
    records = _records(source, docs)
    with tempfile.TemporaryDirectory(prefix="groundwork-bench-") as tmp:
        folder = Path(tmp) / "corpus"
        files = write_corpus(records, folder, per_file, kinds)
        settings = app.settings.model_copy(update={"data_dir": Path(tmp) / ".rag", "database_url": ""})
        store = Store.open(settings.resolved_database_url)
        embedder = app.embedder
        embedder.embed(["warm up"])  # model load and precision probe are not ingestion
        summary = Ingester(settings, store, embedder).run([folder], "bench", workers=workers or None)
        with store.session() as session:
            texts = [embed_text(path, text) for text, path in store.chunk_texts(session)]
            pages = store.total_pages(session)
        started = time.perf_counter()
        embedder.embed(texts)
        bare = time.perf_counter() - started
    fp32 = _bare_fp32_seconds(app.settings, [f"{r.get('title', '')}\n\n{r['text']}" for r in records])
    seconds = summary.seconds
    result = {
        "benchmark": "ingest",
        "machine": machine_note(_gpus()),
        "files": files, "documents_ok": summary.ingested, "failed": len(summary.failed),
        "pages": int(pages or 0), "chunks": summary.chunks_added,
        "seconds": round(seconds, 2),
        "files_per_s": round(files / seconds, 2),
        "pages_per_s": round((pages or 0) / seconds, 2),
        "chunks_per_s": round(summary.chunks_added / seconds, 2),
        "embedding_share": round(summary.timings["embed"] / seconds, 3),
        "bare_encode_seconds": round(bare, 2),
        "overhead_vs_bare_encode": round((seconds - bare) / bare, 3),
        "bare_fp32_records_seconds": round(fp32, 2) if fp32 else None,
        "ratio_vs_bare_fp32": round(seconds / fp32, 3) if fp32 else None,
        "precision": getattr(embedder, "precision", "n/a"),
        "timings": summary.timings,
        "peak_rss_mb": {"ingester": _rss_mb(resource.RUSAGE_SELF), "parsers": _rss_mb(resource.RUSAGE_CHILDREN)},
    }
    # kept as an evaluation run like the others (`rag eval report RUN` writes its report)
    result["run"] = save_run(app.store, app.settings, "bench-ingest", source, flat_metrics(result), [], seconds)
    print(json.dumps(result, indent=2))


def _bare_fp32_seconds(settings, texts: list[str]) -> float | None:
    """A plain fp32 sentence-transformers encode of one text per record, as a quick-start pipeline embeds
    them (the model truncates each at its 256 tokens): the yardstick of the ingest ratio."""
    from rag.embedder import SentenceTransformerEmbedder

    if settings.embedding.model == "fake":
        return None
    fp32 = SentenceTransformerEmbedder(settings.embedding.model_copy(update={"precision": "fp32"}))
    fp32.embed(["warm up"])
    started = time.perf_counter()
    fp32.embed(texts)
    return time.perf_counter() - started


def _rss_mb(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # Linux reports KiB


def _gpus() -> int:
    import faiss

    return faiss.get_num_gpus()
