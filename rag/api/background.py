"""The API served from a thread of this process, on a free loopback port (for the load benchmark and tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rag.workspace import Workspace


@contextmanager
def serving(workspace: Workspace, host: str = "127.0.0.1") -> Iterator[str]:
    """Yields the base URL (http://host:port) while the server runs; stops it on exit."""
    import uvicorn

    from rag.api.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(workspace), host=host, port=0, log_level="warning",
                                           server_header=False, timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, name="rag-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start (see the log above)")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
