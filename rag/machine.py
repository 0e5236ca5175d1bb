"""What machine a figure was measured on: the CPU, its cores and the vector instructions that set CPU speed.

Every benchmark prints `machine_note()` beside its figures. Instruction sets matter as much as cores here: on the
same 2 cores, a CPU with AVX-512 and bf16 embeds about twice as fast as one with AVX2 alone (bf16 autocast), and
llama.cpp evaluates prompts several times faster, so a figure without them cannot be compared with another.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

# (flag in /proc/cpuinfo, name shown), the ones the embedder, llama.cpp and ONNX Runtime pick kernels by
_VECTOR_SETS = (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_vnni", "VNNI"), ("avx512_bf16", "bf16"),
                ("amx_tile", "AMX"))


@functools.cache
def _cpuinfo() -> tuple[str, frozenset[str]]:
    """(model name, flags) of the first CPU; no flags where /proc/cpuinfo cannot be read (not Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor(), frozenset()
    first = text.split("\n\n", 1)[0]  # one block per logical CPU; the first one speaks for all
    fields = {key.strip(): value.strip() for key, value in (line.split(":", 1) for line in first.splitlines()
                                                          if ":" in line)}
    return fields.get("model name", platform.processor()), frozenset(fields.get("flags", "").split())


def cpu_flags() -> frozenset[str]:
    return _cpuinfo()[1]


def cpu_has_bf16() -> bool:
    """True when the CPU advertises native bf16 math (AVX512-BF16 or AMX)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def vector_sets() -> list[str]:
    flags = cpu_flags()
    return [name for flag, name in _VECTOR_SETS if flag in flags]


def machine_note(gpus: int | None = None) -> str:
    """'x86_64, AMD EPYC, 2 cores, AVX2 (no AVX-512, no bf16), GPUs: 0': the line benchmarks print."""
    sets = vector_sets()
    missing = [name for name in ("AVX-512", "bf16") if name not in sets]
    vector = ", ".join(sets) or "no AVX2"
    if missing:
        vector += f" (no {', no '.join(missing)})"
    model = _cpuinfo()[0]
    note = f"{platform.machine()}, {model + ', ' if model else ''}{cores()} cores, {vector}"
    return note if gpus is None else f"{note}, GPUs: {gpus}"
