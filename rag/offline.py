"""The environment every entry point (the CLI, the app, the parser processes) sets before any library is
imported: no hub downloads, no telemetry, no notices. Values the user set are kept."""

from __future__ import annotations

import os

ENV = {
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",  # models load from local files only
    "DO_NOT_TRACK": "1", "SCARF_NO_ANALYTICS": "true", "ANONYMIZED_TELEMETRY": "False",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    "TOKENIZERS_PARALLELISM": "false",  # the tokenizers' threads would fight the parser processes
}


def apply() -> None:
    for key, value in ENV.items():
        os.environ.setdefault(key, value)
