"""Who may call: a bearer key from `rag keys create` (401 without a valid one), its scope and its collections
(403 outside them)."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rag.api_keys import KeyGrant, authenticate

_bearer = HTTPBearer(auto_error=False, description="An API key made with `rag keys create`.")


def grant(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> KeyGrant:
    found = authenticate(request.app.state.workspace.store, credentials.credentials) if credentials else None
    if found is None:
        raise HTTPException(401, "a valid API key is needed: `Authorization: Bearer KEY` (make one with "
                                 "`rag keys create NAME`)", headers={"WWW-Authenticate": "Bearer"})
    return found


def require(key: KeyGrant, scope: str, collection: str | None = None) -> None:
    if not key.allows(scope, None):
        raise HTTPException(403, f"this key's scope is {key.scope!r}; this needs {scope!r}")
    if not key.allows(scope, collection):
        raise HTTPException(403, f"this key may not use collection {collection!r}")


def visible(key: KeyGrant, names: list[str]) -> list[str]:
    return [n for n in names if key.collections is None or n in key.collections]
