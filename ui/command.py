"""`rag ui`: starts the Streamlit app (this package's app.py), bound to RAG_UI__ADDRESS (127.0.0.1 by default)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from rag.cli.context import context

APP = Path(__file__).resolve().with_name("app.py")  # found through the installed package


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)


def ui(
    ctx: typer.Context,
    port: int = typer.Option(0, help="Port (0: RAG_UI__PORT)."),
    address: str = typer.Option(None, help="Address to bind (default: RAG_UI__ADDRESS, 127.0.0.1)."),
) -> None:
    """Chat with your documents, manage them, and read evaluation reports in the browser."""
    app = context(ctx)
    address = address or app.settings.ui.address
    port = port or app.settings.ui.port
    app.console.print(f"Groundwork UI on http://{address}:{port} (Ctrl-C stops it)", highlight=False)
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", address,
               "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal", "--server.maxUploadSize",
               str(int(app.settings.ui.upload_max_mb) + 1)]
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    if os.name == "posix":
        # become the server, so that a signal meant for `rag ui` (Ctrl-C, a service manager's SIGTERM) reaches
        # it: a child process would be orphaned and keep the port
        sys.stdout.flush()
        os.execve(sys.executable, command, env)
    try:
        raise typer.Exit(subprocess.call(command, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
