"""Generation models on disk: which GGUF file is active, and fetching the pinned default with its checksum.

Nothing here touches the network unless `pull` is called; `pull` streams the file to a temporary name, hashes it
as it arrives, and keeps it only when the SHA-256 equals the pinned one.
Why urllib and not huggingface_hub: the entry points keep HF_HUB_OFFLINE=1 so that nothing else reaches a hub,
and one pinned file over HTTPS needs no more than a streamed GET.
"""

from __future__ import annotations

import hashlib
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from rag.errors import ModelError
from rag.settings import Settings

CHUNK = 1 << 20


def default_model_file(settings: Settings) -> Path:
    return settings.models_dir / settings.generator.file


def active_model(settings: Settings) -> Path | None:
    """The configured GGUF file, else the pulled default, else None (the extractive answerer)."""
    configured = settings.generator.model_path
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise ModelError(f"{path}: RAG_GENERATOR__MODEL_PATH names no file. Point it at a GGUF model, or "
                             "leave it empty to use the extractive answerer.")
        return path
    pulled = default_model_file(settings)
    return pulled if pulled.is_file() else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


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


def pull(settings: Settings, progress: Callable[[int, int | None], None] | None = None,
         timeout: float = 30.0) -> Path:
    """Downloads the pinned default model into DATA_DIR/models and verifies its SHA-256."""
    target = default_model_file(settings)
    expected = settings.generator.sha256.lower()
    if target.is_file() and sha256_of(target) == expected:
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
        raise ModelError(f"could not download {url} ({exc}). This machine may be offline: the extractive "
                         "answerer stays active. Copy a GGUF file here and set RAG_GENERATOR__MODEL_PATH, or "
                         "run `rag models pull` where the hub is reachable.") from exc
    if digest.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        raise ModelError(f"{url}: SHA-256 {digest.hexdigest()} differs from the pinned {expected}; the file was "
                         "discarded. Pin the new checksum (RAG_GENERATOR__SHA256) only if you trust the change.")
    partial.replace(target)
    return target
