"""Checks that the import packages rag, ingest, evals and ui are this distribution's, not a namesake's."""

from __future__ import annotations

import importlib.util
import json
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path
from urllib.parse import urlparse

DISTRIBUTION = "groundwork-rag"
IMPORT_PACKAGES = ("rag", "ingest", "evals", "ui")


def ownership_problems() -> list[str]:
    """Empty when every import package resolves to this distribution; otherwise what is wrong and the fix."""
    try:
        dist = distribution(DISTRIBUTION)
    except PackageNotFoundError:
        return [f"the distribution {DISTRIBUTION} is not installed; run `make install` (or pip install -e .)"]
    owners = packages_distributions()
    home = _install_root(dist)
    problems = []
    for name in IMPORT_PACKAGES:
        claimed = owners.get(name, [])
        others = [d for d in claimed if d != DISTRIBUTION]
        if others:
            problems.append(f"import package {name!r} is also provided by {', '.join(others)}; "
                            f"uninstall it (pip uninstall {others[0]}) to avoid a clash")
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin).resolve() if spec and spec.origin else None
        if origin is None or not origin.is_relative_to(home):
            problems.append(f"import package {name!r} resolves to {origin}, not to {DISTRIBUTION} at {home}")
    return problems


def _install_root(dist) -> Path:
    direct = dist.read_text("direct_url.json")
    if direct:
        info = json.loads(direct)
        if info.get("dir_info", {}).get("editable"):
            return Path(urlparse(info["url"]).path).resolve()
    return Path(dist.locate_file("")).resolve()
