"""The machine note names what sets CPU speed: the cores and the vector instructions, present or missing."""

import pytest

from rag import machine


@pytest.fixture
def cpu(monkeypatch):
    def with_flags(*flags: str) -> None:
        monkeypatch.setattr(machine, "_cpuinfo", lambda: ("AMD EPYC", frozenset(flags)))
    return with_flags


def test_a_cpu_with_avx2_alone_says_what_it_lacks(cpu):
    cpu("fpu", "sse4_2", "avx", "avx2", "fma")
    note = machine.machine_note(gpus=0)
    assert "AMD EPYC" in note and f"{machine.cores()} cores" in note
    assert "AVX2 (no AVX-512, no bf16)" in note and note.endswith("GPUs: 0")
    assert not machine.cpu_has_bf16()


def test_a_cpu_with_avx512_bf16_lists_each_set(cpu):
    cpu("avx2", "avx512f", "avx512_vnni", "avx512_bf16")
    note = machine.machine_note()
    assert "AVX2, AVX-512, VNNI, bf16" in note and "(no" not in note and "GPUs" not in note
    assert machine.cpu_has_bf16()


def test_this_machine_is_read_from_proc_cpuinfo():
    model, flags = machine._cpuinfo()
    assert isinstance(model, str) and isinstance(flags, frozenset)
    assert machine.machine_note(gpus=1).endswith("GPUs: 1")
