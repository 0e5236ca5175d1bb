"""Settings precedence (init > env > .env > defaults) and .env.example kept in step with the fields."""

from pathlib import Path

from pydantic import BaseModel

from rag.settings import Settings
from tests.conftest import ROOT


def _env_names(model: type[BaseModel], prefix: str = "RAG_") -> set[str]:
    names = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _env_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def test_precedence_init_over_env_over_dotenv_over_default(tmp_path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("RAG_DEFAULT_COLLECTION=from-dotenv\nRAG_INGEST__CHUNK_TOKENS=111\nRAG_DATA_DIR=/dotenv\n")
    monkeypatch.setenv("RAG_DEFAULT_COLLECTION", "from-env")
    settings = Settings(_env_file=dotenv, data_dir=Path("/init"))
    assert settings.data_dir == Path("/init")
    assert settings.default_collection == "from-env"
    assert settings.ingest.chunk_tokens == 111
    assert settings.ingest.chunk_overlap == 32


def test_nested_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAG_EMBEDDING__PRECISION", "fp32")
    monkeypatch.setenv("RAG_INGEST__LANGUAGES", '["eng","deu"]')
    settings = Settings(_env_file=None)
    assert settings.embedding.precision == "fp32" and settings.ingest.languages == ["eng", "deu"]


def test_env_example_lists_every_setting_with_its_default():
    lines = [line for line in (ROOT / ".env.example").read_text().splitlines() if line.startswith("RAG_")]
    listed = dict(line.split("=", 1) for line in lines)
    assert set(listed) == _env_names(Settings)
    defaults = Settings(_env_file=None)
    assert listed["RAG_INGEST__CHUNK_TOKENS"] == str(defaults.ingest.chunk_tokens)
    assert listed["RAG_EMBEDDING__MODEL"] == defaults.embedding.model


def test_sqlite_is_the_default_database(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'groundwork.db'}"
