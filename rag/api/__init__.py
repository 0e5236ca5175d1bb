"""The HTTP API (`rag serve`): FastAPI over the workspace, OpenAI-compatible where clients expect it."""
