"""The evaluated state of fixed prompt prefixes, kept so that each question pays only for its own tokens.

On CPU the prompt dominates an answer's time (a 1.5B model reads about 100 prompt tokens/s on 2 cores), and
every answer starts with the same system message and worked examples. llama.cpp already reuses the part of a
prompt that matches what the context holds; but once another prompt ran in between (a judge, a rewrite) that
match is gone. So the KV cells of each fixed prefix are copied out the first time it is evaluated
(`llama_state_seq_get_data`: only the sequence's cells, a few MB) and copied back when a later prompt starts
with it. With a folder they are also kept on disk, keyed by the model's SHA-256 and the prefix's tokens, so
that a new process (`rag ask`) skips them too; a state llama.cpp does not accept is evaluated again.
Uses llama-cpp-python's context internals (pinned version, see pyproject.toml).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

SEQUENCE = 0  # llama-cpp-python evaluates everything in sequence 0
FILES_KEPT = 16


class PrefixCache:
    def __init__(self, llm, capacity: int = 4, folder: Path | None = None, model_key: str = ""):
        self.llm = llm
        self.capacity = capacity
        self.folder = folder
        self.model_key = model_key  # the model's SHA-256: a state belongs to one model file
        self.states: OrderedDict[tuple[int, ...], ctypes.Array] = OrderedDict()
        self.restored = 0  # how often a kept state was copied back (for tests and benchmarks)

    def evaluate(self, tokens: list[int], prefix: int) -> int:
        """Evaluates `tokens` (of which the first `prefix` are fixed), reusing what is cached; returns how many
        tokens had to be evaluated: none when this very prompt was the last thing evaluated (its logits are still
        there), otherwise at least one, so that the logits are fresh. Why not always re-evaluate the last token:
        on an AVX2-only CPU (measured) a token evaluated alone got other logits than the same token evaluated in
        a batch (likely llama.cpp's matrix-vector against its matrix-matrix kernels), so the same judge prompt
        scored 0.388 or 0.3945 depending on what ran before it."""
        llm = self.llm
        key = tuple(tokens[:prefix])
        cached = _common_prefix(llm.input_ids[: llm.n_tokens], tokens)
        if tokens and cached == len(tokens) == llm.n_tokens:
            return 0
        if cached < prefix and key not in self.states and prefix:
            self._load_file(key)
        if cached < prefix and key in self.states:
            cached = prefix if self._restore(key) else 0
        keep = min(cached, len(tokens) - 1)
        llm.n_tokens = keep
        if keep < prefix < len(tokens) and key not in self.states:
            llm.eval(tokens[keep:prefix])
            self._save(key)
            llm.eval(tokens[prefix:])
        else:
            llm.eval(tokens[keep:])
        return len(tokens) - keep

    def _save(self, key: tuple[int, ...]) -> None:
        import llama_cpp

        ctx = self.llm._ctx.ctx  # noqa: SLF001
        size = llama_cpp.llama_state_seq_get_size(ctx, SEQUENCE)
        buffer = (ctypes.c_uint8 * size)()
        if llama_cpp.llama_state_seq_get_data(ctx, buffer, size, SEQUENCE) != size:
            return  # nothing kept: the prefix is simply evaluated again next time
        self.states[key] = buffer
        while len(self.states) > self.capacity:
            self.states.popitem(last=False)
        self._save_file(key, buffer)

    def _restore(self, key: tuple[int, ...]) -> bool:
        import llama_cpp

        llm = self.llm
        buffer = self.states[key]
        self.states.move_to_end(key)
        llm._ctx.kv_cache_seq_rm(SEQUENCE, 0, -1)  # noqa: SLF001
        if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buffer, len(buffer), SEQUENCE) != len(buffer):  # noqa: SLF001
            llm.n_tokens = 0
            del self.states[key]
            return False
        llm.input_ids[: len(key)] = key
        llm.n_tokens = len(key)
        self.restored += 1
        return True


    def _file(self, key: tuple[int, ...]) -> Path | None:
        if self.folder is None or not self.model_key:
            return None
        digest = hashlib.sha256(self.model_key.encode() + np.asarray(key, dtype=np.int32).tobytes()).hexdigest()
        return self.folder / f"{digest[:32]}.kv"

    def _save_file(self, key: tuple[int, ...], buffer: ctypes.Array) -> None:
        path = self._file(key)
        if path is None or path.exists():
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.part")
            partial.write_bytes(bytes(buffer))
            os.replace(partial, path)
            for old in sorted(path.parent.glob("*.kv"), key=lambda p: p.stat().st_mtime)[:-FILES_KEPT]:
                old.unlink(missing_ok=True)
        except OSError:
            pass  # a cache: without it the prefix is evaluated again

    def _load_file(self, key: tuple[int, ...]) -> None:
        path = self._file(key)
        if path is None or not path.is_file():
            return
        try:
            data = path.read_bytes()
        except OSError:
            return
        self.states[key] = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)


def _common_prefix(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
