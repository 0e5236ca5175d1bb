"""Keys for the HTTP API: made once and shown once, stored only as a hash, checked in constant time.

A key reads `gw_<prefix>_<secret>`. The prefix finds the row; the SHA-256 of the whole key is compared with
`hmac.compare_digest`. SHA-256 rather than a slow password hash (bcrypt, argon2) on purpose: a key carries
256 random bits, so there is nothing to guess, and each request pays microseconds instead of ~100 ms.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from rag.errors import ConfigError
from rag.store import Store
from rag.store.tables import utcnow

SCOPES = ("read", "write", "admin")  # each includes the ones before it
# A request writes only to refresh `last_used_at`, at most this often per key (keeps reads off the write lock).
TOUCH_EVERY = timedelta(minutes=10)


@dataclass(frozen=True)
class KeyGrant:
    """What a presented key may do."""

    id: int
    name: str
    scope: str
    collections: tuple[str, ...] | None  # None: every collection

    def allows(self, scope: str, collection: str | None = None) -> bool:
        if SCOPES.index(self.scope) < SCOPES.index(scope):
            return False
        return collection is None or self.collections is None or collection in self.collections


@dataclass(frozen=True)
class KeyRecord:
    id: int
    name: str
    prefix: str
    scope: str
    collections: list[str] | None
    created_at: datetime | None
    last_used_at: datetime | None
    revoked: bool


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(store: Store, name: str, scope: str = "read", collections: list[str] | None = None) -> str:
    """Stores a new key's hash and returns the key itself: the only time it is ever shown."""
    if scope not in SCOPES:
        raise ConfigError(f"scope {scope!r}: use one of {', '.join(SCOPES)}")
    prefix = secrets.token_hex(4)
    key = f"gw_{prefix}_{secrets.token_urlsafe(32)}"
    with store.session() as session:
        store.add_api_key(session, name=name, prefix=prefix, secret_sha256=_digest(key), scope=scope,
                          collections=sorted(set(collections)) if collections else None)
    return key


def authenticate(store: Store, presented: str) -> KeyGrant | None:
    """The grant of a valid, unrevoked key, else None (same work for a wrong secret as for a known prefix)."""
    parts = presented.split("_", 2)
    prefix = parts[1] if len(parts) == 3 and parts[0] == "gw" else ""
    with store.session() as session:
        row = store.api_key_by_prefix(session, prefix) if prefix else None
        expected = row.secret_sha256 if row is not None else _digest(secrets.token_hex(16))
        if not hmac.compare_digest(expected, _digest(presented)) or row is None:
            return None
        grant = KeyGrant(row.id, row.name, row.scope, tuple(row.collections) if row.collections else None)
        last = row.last_used_at
    if last is None or _aware(last) < utcnow() - TOUCH_EVERY:  # a write at most every few minutes per key
        with store.session() as session:
            store.touch_api_key(session, grant.id)
    return grant


def _aware(moment: datetime) -> datetime:  # SQLite hands back naive datetimes (stored as UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def list_keys(store: Store) -> list[KeyRecord]:
    with store.session() as session:
        return [KeyRecord(k.id, k.name, k.prefix, k.scope, k.collections, k.created_at, k.last_used_at,
                          k.revoked_at is not None) for k in store.api_keys(session)]


def revoke_key(store: Store, key: str) -> int:
    with store.session() as session:
        return store.revoke_api_key(session, key)
