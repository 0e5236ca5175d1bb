"""Writes real documents of every supported format (and hostile ones) for the sample corpus and the tests."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from pathlib import Path


def make_pdf(path: Path, pages: list[list[str]], title: str | None = None) -> Path:
    """A text PDF; each page is a list of paragraphs (a paragraph starting with '# ' is a heading)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    story = []
    for number, page in enumerate(pages):
        if number:
            story.append(PageBreak())
        for para in page:
            if para.startswith("# "):
                story.append(Paragraph(para[2:], styles["Heading1"]))
            else:
                story.append(Paragraph(para, styles["BodyText"]))
    SimpleDocTemplate(str(path), pagesize=A4, title=title or path.stem).build(story)
    return path


def make_scanned_pdf(path: Path, pages: int = 2) -> Path:
    """A PDF with pages but no text layer (as a scan without OCR looks)."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    for _ in range(pages):
        pdf.rect(100, 100, 300, 400, fill=1)
        pdf.showPage()
    pdf.save()
    return path


def make_encrypted_pdf(path: Path, source: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(source).pages:
        writer.add_page(page)
    writer.encrypt("secret-password")
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def make_docx(path: Path, blocks: list[tuple[str, str]]) -> Path:
    """blocks: ("h1"|"h2"|"p"|"table"|"picture", text); a table's text is rows separated by ';', cells by '|';
    a picture's is the path of an image file."""
    import docx
    from docx.shared import Inches

    document = docx.Document()
    for kind, text in blocks:
        if kind in ("h1", "h2"):
            document.add_heading(text, level=int(kind[1]))
        elif kind == "table":
            rows = [r.split("|") for r in text.split(";")]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for i, row in enumerate(rows):
                for j, cell in enumerate(row):
                    table.cell(i, j).text = cell.strip()
        elif kind == "picture":
            document.add_picture(text, width=Inches(6))
        else:
            document.add_paragraph(text)
    document.save(path)
    return path


def make_pptx(path: Path, slides: list[tuple[str, list[str]]], pictures: dict[int, Path] | None = None) -> Path:
    """pictures: slide number (1-based) -> an image file shown on that slide."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for number, (title, bullets) in enumerate(slides, 1):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = bullets[0]
        for bullet in bullets[1:]:
            body.add_paragraph().text = bullet
        if number in (pictures or {}):
            slide.shapes.add_picture(str(pictures[number]), Inches(0.5), Inches(4.5), width=Inches(9))
    deck.save(path)
    return path


def make_xlsx(path: Path, sheet: str, rows: list[list[object]]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = sheet
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def make_eml(path: Path, sender: str, to: str, subject: str, body: str) -> Path:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Date"] = "Mon, 02 Nov 2026 09:30:00 +0000"
    message.set_content(body)
    path.write_bytes(bytes(message))
    return path


def make_decompression_bomb_docx(path: Path, expanded_mb: int) -> Path:
    """A small .docx whose document.xml expands to expanded_mb megabytes."""
    block = b"<w:p><w:r><w:t>" + b"A" * 1000 + b"</w:t></w:r></w:p>"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("word/document.xml", "w") as member:
            member.write(b'<?xml version="1.0"?><w:document><w:body>')
            for _ in range(expanded_mb * 1024 * 1024 // len(block)):
                member.write(block)
            member.write(b"</w:body></w:document>")
    return path


def make_deep_html(path: Path, depth: int = 2000) -> Path:
    path.write_text("<html><body>" + "<div>" * depth + "Buried text that nobody can reach." +
                    "</div>" * depth + "</body></html>")
    return path


def truncate(path: Path, target: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


def docx_bytes(blocks: list[tuple[str, str]]) -> bytes:
    buffer = io.BytesIO()
    import docx

    document = docx.Document()
    for _, text in blocks:
        document.add_paragraph(text)
    document.save(buffer)
    return buffer.getvalue()


def text_image(paragraphs: list[str], **options):
    """A page image of the paragraphs, as a scan looks (see ingest.bench_ocr.render_page)."""
    from ingest.bench_ocr import render_page

    return render_page(paragraphs, **options)


def make_image(path: Path, paragraphs: list[str], **options) -> Path:
    text_image(paragraphs, **options).save(path)
    return path


def make_image_pdf(path: Path, pages: list[list[str]], noise: list[float] | None = None) -> Path:
    """A PDF of page images and no text layer: what a scanner without OCR produces (noise: per page)."""
    images = [text_image(page, noise=(noise or [0.0] * len(pages))[n], seed=n).convert("RGB")
              for n, page in enumerate(pages)]
    images[0].save(path, "PDF", resolution=200.0, save_all=True, append_images=images[1:])
    return path


def convert_with_libreoffice(source: Path, target: Path) -> Path:
    """source converted by LibreOffice into target's format (.doc from .docx, .ppt from .pptx, ...)."""
    import shutil
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([shutil.which("soffice"), f"-env:UserInstallation={Path(tmp, 'profile').as_uri()}",
                        "--headless", "--convert-to", target.suffix.lstrip("."), "--outdir", tmp, str(source)],
                       check=True, capture_output=True, timeout=180)
        shutil.move(Path(tmp) / f"{source.stem}{target.suffix}", target)
    return target


def make_eml_with_attachments(path: Path, body: str, attachments: list[tuple[str, bytes, str]]) -> Path:
    """attachments: (file name, bytes, MIME type)."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ops@example.org", "team@example.org", "Site visit"
    message["Date"] = "Tue, 03 Nov 2026 10:00:00 +0000"
    message.set_content(body)
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    path.write_bytes(bytes(message))
    return path


def wav_bytes(seconds: float = 0.5) -> bytes:
    """A short silent WAV file (an attachment no text parser can read)."""
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * int(8000 * seconds))
    return buffer.getvalue()
