"""Shared fixtures: the network is blocked (loopback allowed), settings in a temp dir, a real PostgreSQL."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from rag.settings import EmbeddingSettings, GeneratorSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1",
                   "UNSTRUCTURED_DISABLE_NOTICE": "1"}.items():
    os.environ.setdefault(key, value)

_real_connect = socket.socket.connect


def _guarded_connect(sock, address):
    if sock.family == socket.AF_UNIX or (isinstance(address, tuple) and address[0] in
                                         ("127.0.0.1", "::1", "localhost")):
        return _real_connect(sock, address)
    raise OSError(f"network access is blocked in tests (tried {address!r})")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Settings that ignore the developer's environment and .env; the extractive answerer unless a test asks
    for a model (the installed default model is the product's default)."""
    overrides.setdefault("embedding", EmbeddingSettings(model="fake"))
    overrides.setdefault("generator", GeneratorSettings(model="extractive"))
    return Settings(_env_file=None, data_dir=data_dir, **overrides)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path / ".rag")


@pytest.fixture(scope="session")
def real_embedder():
    from rag.embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(EmbeddingSettings())
    embedder.warm_up()
    return embedder


@pytest.fixture(scope="session")
def sample_copy(tmp_path_factory):
    """`sample_copy(data_dir, embedder)` puts the sample corpus, ingested into collection 'sample' with that
    embedder, into data_dir. It is ingested once per embedder in a session (parsing it takes 12-15 s on 2 cores)
    and each test gets a copy of that folder, database and index together."""
    from ingest.pipeline import Ingester
    from rag.store import Store

    made: dict[str, Path] = {}

    def copy(data_dir: Path, embedder) -> Path:
        key = f"{embedder.model_id}-{embedder.dim}"
        if key not in made:
            template = tmp_path_factory.mktemp("sample") / ".rag"
            embedding = getattr(embedder, "settings", None)
            settings = make_settings(template, **({"embedding": embedding} if embedding else {}))
            store = Store.open(settings.resolved_database_url)
            Ingester(settings, store, embedder).run([SAMPLE], "sample")
            store.close()  # the write-ahead log is folded back, so a copy of the folder is whole
            made[key] = template
        shutil.copytree(made[key], data_dir)
        return data_dir

    return copy


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL cluster on 127.0.0.1 (Debian server binaries), stopped after the session."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries not found (scripts/system-deps.sh installs them)")
    base = Path(tempfile.mkdtemp(prefix="groundwork-pg-"))
    user = []
    if os.geteuid() == 0:  # the server refuses to run as root
        subprocess.run(["useradd", "-M", "groundwork-pg"], capture_output=True)
        shutil.chown(base, "groundwork-pg")
        user = ["runuser", "-u", "groundwork-pg", "--"]
    data = base / "data"
    subprocess.run(user + [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run(user + [pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-o",
                           f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(user + [pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """The store's tests run against both databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url = request.getfixturevalue("postgres_url")
    from sqlalchemy import create_engine, text

    name = f"t{time.time_ns()}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory) -> Path:
    """A random-weight llama model (~0.6 MB) with a tokenizer and a ChatML template (evals/synthetic_gguf.py)."""
    from evals.synthetic_gguf import write_model

    return write_model(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def installed_model(role: str) -> Path:
    """A catalog model installed on this machine (`make test` installs the default and the tiny one)."""
    from rag.generation.model_catalog import find
    from rag.generation.model_install import installed

    model = find(role)
    path = installed(model, Settings(_env_file=None).models_dir)
    if path is None:
        pytest.fail(f"{model.name} is not installed: run `rag models install {role}` (make test does)")
    return path


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """SmolLM2-135M-Instruct: a real chat model that loads in a second (its answers are poor)."""
    return installed_model("tiny")


@pytest.fixture(scope="session")
def default_model() -> Path:
    """Qwen2.5-Coder-1.5B-Instruct: the model users get."""
    return installed_model("default")
