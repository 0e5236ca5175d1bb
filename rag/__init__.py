"""Groundwork's core library: settings, store, vector index and embedder.

`ingest` and `evals` build on this package; it imports neither of them.
"""

__version__ = "0.1.0"
