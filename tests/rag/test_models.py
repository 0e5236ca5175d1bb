"""The default model: pulled with its SHA-256 checked (here from a local file: no hub is reachable), a clear
error and a one-line notice offline, and which model is active."""

from __future__ import annotations

import hashlib

import pytest

from rag.errors import ModelError
from rag.models import active_model, default_model_file, hub_reachable, pull
from rag.settings import GeneratorSettings
from tests.conftest import make_settings
from tests.ingest.test_cli import rag


@pytest.fixture
def hub(tmp_path):
    """A folder laid out like a hub: REPO/resolve/REVISION/FILE, served through a file: URL."""
    blob = tmp_path / "hub" / "org" / "model-GGUF" / "resolve" / "main" / "model.gguf"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"GGUF" + bytes(range(256)) * 100)
    return blob


def settings_for(tmp_path, hub, sha256):
    return make_settings(tmp_path / ".rag", generator=GeneratorSettings(
        hub_url=(tmp_path / "hub").as_uri(), repo="org/model-GGUF", file="model.gguf", sha256=sha256))


def test_pull_keeps_the_file_only_when_its_checksum_matches(tmp_path, hub):
    good = settings_for(tmp_path, hub, hashlib.sha256(hub.read_bytes()).hexdigest())
    path = pull(good)
    assert path == default_model_file(good) and path.read_bytes() == hub.read_bytes()
    assert active_model(good) == path
    assert pull(good) == path  # already present and intact: nothing downloaded

    bad = settings_for(tmp_path / "other", hub, "0" * 64)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "hub").symlink_to(tmp_path / "hub")
    with pytest.raises(ModelError, match="differs from the pinned"):
        pull(bad)
    assert not default_model_file(bad).exists() and not list(default_model_file(bad).parent.glob("*.part"))
    assert active_model(bad) is None


def test_offline_pull_is_a_clear_error_and_if_online_is_a_one_line_notice(tmp_path):
    settings = make_settings(tmp_path / ".rag", generator=GeneratorSettings(hub_url="https://huggingface.co"))
    assert not hub_reachable("https://huggingface.co/x", timeout=1)
    with pytest.raises(ModelError, match="may be offline: the extractive answerer stays active"):
        pull(settings, timeout=2)
    result = rag(["models", "pull", "--if-online"], tmp_path / ".rag", RAG_GENERATOR__HUB_URL="http://127.0.0.1:9")
    assert result.returncode == 0 and "no model hub reachable" in result.stdout
    assert len(result.stdout.strip().splitlines()) <= 2  # one line (the console may wrap it)


def test_a_configured_path_that_names_no_file_is_an_error(tmp_path):
    settings = make_settings(tmp_path / ".rag", generator=GeneratorSettings(model_path=str(tmp_path / "x.gguf")))
    with pytest.raises(ModelError, match="x.gguf: RAG_GENERATOR__MODEL_PATH names no file"):
        active_model(settings)
