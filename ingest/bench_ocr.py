"""`rag bench ocr`: OCR speed (pages/s) and accuracy (character error rate) on page images rendered from known
text (records of a BEIR corpus.jsonl), clean and speckled, through the real parser processes. Prints JSON."""

from __future__ import annotations

import json
import random
import tempfile
import textwrap
import time
from pathlib import Path

import typer

from ingest.parser_pool import ParserPool, parser_options
from rag.cli.context import context


def render_page(paragraphs: list[str], width: int = 1700, size: int = 34, noise: float = 0.0, seed: int = 0):
    """The paragraphs in black on white in reportlab's bundled Vera font (about 200 dpi for A4 width),
    optionally speckled: noise is the share of pixels flipped, as on a poor scan."""
    import reportlab
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"), size)
    lines = []
    for paragraph in paragraphs:
        lines += textwrap.wrap(paragraph, width=int(width / (size * 0.6))) + [""]
    height = 120 + len(lines) * int(size * 1.5)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((80, 60 + number * int(size * 1.5)), line, fill=0, font=font)
    if noise:
        rng = random.Random(seed)
        pixels = image.load()
        for _ in range(int(width * height * noise)):
            x, y = rng.randrange(width), rng.randrange(height)
            pixels[x, y] = 255 - pixels[x, y]
    return image


def character_error_rate(reference: str, found: str) -> float:
    """Levenshtein distance over the reference length, whitespace normalised."""
    from rapidfuzz.distance import Levenshtein

    reference, found = " ".join(reference.split()), " ".join(found.split())
    return Levenshtein.distance(reference, found) / max(1, len(reference))


def bench_ocr(
    ctx: typer.Context,
    source: Path = typer.Option(Path("../shared/data/retrieval/scifact/corpus.jsonl"), help="A BEIR corpus.jsonl."),
    pages: int = typer.Option(12, help="Pages per noise level (one record each)."),
    noise: str = typer.Option("0,0.02", help="Noise levels (share of pixels flipped), comma-separated."),
    workers: int = typer.Option(0, help="Parser processes (0: settings)."),
) -> None:
    """OCR pages/s and character error rate, per noise level, on scanned PDFs made from known text."""
    app = context(ctx)
    records = []
    with open(source, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row.get("text"):
                records.append(row["text"])
            if len(records) == pages:
                break
    ingest = app.settings.ingest
    results = []
    with tempfile.TemporaryDirectory(prefix="groundwork-ocr-") as tmp:
        for level in (float(x) for x in noise.split(",")):
            folder = Path(tmp) / f"noise-{level}"
            folder.mkdir()
            truth = {}
            for number, text in enumerate(records):
                path = folder / f"page{number:03}.pdf"
                render_page([text], noise=level, seed=number).convert("RGB").save(path, "PDF", resolution=200.0)
                truth[path.name] = text
            pool = ParserPool(workers or ingest.workers or 1, ingest.parse_timeout_s, ingest.parse_memory_mb,
                              parser_options(ingest), app.settings.data_dir / "logs" / "parser.log")
            started = time.perf_counter()
            outcomes = list(pool.parse([(p, p) for p in sorted(folder.iterdir())]))
            seconds = time.perf_counter() - started
            rates, confidences = [], []
            for outcome in outcomes:
                elements = outcome.result["elements"] if outcome.result else []
                rates.append(character_error_rate(truth[outcome.path.name], " ".join(e["text"] for e in elements)))
                confidences += [e["ocr"] for e in elements[:1] if e.get("ocr") is not None]
            results.append({
                "noise": level, "pages": len(outcomes), "failed": sum(o.error is not None for o in outcomes),
                "seconds": round(seconds, 2), "pages_per_s": round(len(outcomes) / seconds, 3),
                "cer_mean": round(sum(rates) / len(rates), 4), "cer_max": round(max(rates), 4),
                "confidence_mean": round(sum(confidences) / len(confidences), 1) if confidences else None,
            })
    print(json.dumps({"benchmark": "ocr", "dpi": ingest.ocr_dpi, "languages": ingest.ocr_languages,
                      "workers": workers or ingest.workers or 1, "levels": results}, indent=2))
