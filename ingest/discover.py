"""Finding the files to ingest: walks directories, skips hidden and junk files, never leaves the root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ingest.filetypes import CODE_LANGUAGES, DOCUMENT_TYPES, supported

JUNK_NAMES = {"thumbs.db", "desktop.ini", ".ds_store", "__pycache__", "node_modules"}
JUNK_SUFFIXES = {".tmp", ".swp", ".part", ".crdownload", ".lock", ".pyc"}
# What to do with the kinds of files people keep that hold no text we can read.
HINTS = {
    **dict.fromkeys((".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar"),
                    "an archive: unpack it and ingest the folder"),
    **dict.fromkeys((".mp3", ".wav", ".m4a", ".ogg", ".flac", ".mp4", ".mov", ".avi", ".mkv", ".webm"),
                    "audio and video are not transcribed: ingest a transcript instead"),
    **dict.fromkeys((".exe", ".dll", ".so", ".dylib", ".bin", ".iso", ".dmg"),
                    "a program or disk image, not a document"),
}


@dataclass
class Found:
    files: list[Path]            # resolved paths, inside their root
    refused: list[tuple[Path, str]]  # (path, reason)
    roots: list[Path]            # resolved roots (for --sync)


def _is_junk(name: str) -> bool:
    lower = name.lower()
    return (
        name.startswith(".") or name.startswith("~$") or lower in JUNK_NAMES
        or any(lower.endswith(s) for s in JUNK_SUFFIXES)
    )


def discover(paths: list[Path], code_files: bool = True) -> Found:
    found = Found([], [], [])
    allowed = supported(code_files)
    seen: set[Path] = set()
    for given in paths:
        if not given.exists():
            found.refused.append((given, "no such file or directory"))
            continue
        root = given.resolve()
        found.roots.append(root)
        candidates = [given] if given.is_file() else _walk(given)
        for path in candidates:
            _consider(path, root if given.is_dir() else root.parent, found, seen, allowed)
    return found


def _walk(directory: Path):
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not _is_junk(d))
        for name in sorted(filenames):
            if not _is_junk(name):
                yield Path(dirpath) / name


def _consider(path: Path, root: Path, found: Found, seen: set[Path], allowed: set[str]) -> None:
    resolved = path.resolve()
    if path.is_symlink() and not resolved.is_relative_to(root):
        found.refused.append((path, f"symbolic link to {resolved}, outside the ingested folder {root}; not followed"))
        return
    if not resolved.is_file():
        return
    suffix = path.suffix.lower()
    if suffix in CODE_LANGUAGES and suffix not in allowed:
        found.refused.append((path, "source code and config files are not ingested (RAG_INGEST__CODE_FILES=false)"))
        return
    if suffix in HINTS:
        found.refused.append((path, f"unsupported file type {suffix}: {HINTS[suffix]}"))
        return
    if suffix not in allowed:
        code = " and source code / config files" if CODE_LANGUAGES.keys() <= allowed else ""
        found.refused.append((path, f"unsupported file type {path.suffix or '(no extension)'}; "
                                    f"supported: {', '.join(sorted(DOCUMENT_TYPES))}{code}"))
        return
    if resolved not in seen:
        seen.add(resolved)
        found.files.append(resolved)
