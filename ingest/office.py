"""Legacy Office files (.doc, .ppt, .xls) and OpenDocument spreadsheets and presentations (.ods, .odp, which
unstructured does not read) converted to their modern Office form by LibreOffice, headless, with a time
limit. Done here rather than by unstructured's own converter because that one has no timeout, and a hung
soffice would outlive the parser process that the pool kills."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from rag import system_packages

MODERN = {".doc": "docx", ".ppt": "pptx", ".xls": "xlsx", ".ods": "xlsx", ".odp": "pptx"}


class ConversionFailed(Exception):
    """The message is the reason shown to the user."""


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(path: Path, ext: str, workdir: Path, timeout_s: float) -> Path:
    """The converted copy of path (whose content is of kind ext) inside workdir."""
    binary = soffice()
    if binary is None:
        raise ConversionFailed(f"{ext} files need LibreOffice to be read, and it is not installed: run "
                               f"`{system_packages.LIBREOFFICE}`")
    target = MODERN[ext]
    source = workdir / f"source{ext}"  # the content's own extension, whatever the file is named
    shutil.copyfile(path, source)
    # A profile of its own: concurrent parsers would otherwise share (and lock) the user's profile.
    profile = (workdir / "profile").as_uri()
    command = [binary, f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", target,
               "--outdir", str(workdir / "out"), str(source)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True, env={**os.environ, "HOME": str(workdir)})
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise ConversionFailed(f"LibreOffice took longer than {timeout_s:g} s to convert it "
                               "(RAG_INGEST__CONVERT_TIMEOUT_S)") from None
    converted = workdir / "out" / f"source.{target}"
    if process.returncode != 0 or not converted.exists():
        detail = " ".join(output.split())[-300:] or f"exit code {process.returncode}"
        raise ConversionFailed(f"LibreOffice could not convert it (damaged or not a real {ext} file?): {detail}")
    return converted
