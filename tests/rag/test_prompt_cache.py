"""The fixed prompt prefix is evaluated once: after another prompt it is copied back, and a new process reads it
from disk; either way the answer is the same as without reuse (the real tiny model, greedy)."""

from __future__ import annotations

from rag.generation.generators import LlamaCppGenerator, Prompt
from rag.settings import GeneratorSettings

SYSTEM = "You answer questions about the harbour from the sources you are given. " * 12
EXAMPLES = (("Sources: [1] The ferry leaves at 9.\n\nQuestion: When does the ferry leave?", "At 9. [1]"),)
ASK = Prompt(SYSTEM, "Sources: [1] The office opens at 07:30.\n\nQuestion: When does the office open?", EXAMPLES)
OTHER = Prompt("You are terse.", "Name a colour.")


def generator(path, cache_dir=None, sha256=""):
    return LlamaCppGenerator(path, GeneratorSettings(temperature=0, context_tokens=1024, threads=2),
                             sha256=sha256, cache_dir=cache_dir)


def answer(g, prompt=ASK) -> str:
    return "".join(g.stream(prompt, max_tokens=24))


def test_the_prefix_is_restored_after_another_prompt_with_the_same_answer(tiny_model):
    fresh = answer(generator(tiny_model))
    g = generator(tiny_model)
    first = answer(g)
    whole = g.evaluated_tokens
    answer(g, OTHER)  # the context now holds another prompt
    again = answer(g)
    assert first == again == fresh
    assert g.prefixes.restored == 1
    assert g.evaluated_tokens < whole / 3  # only the question's own tokens


def test_a_new_process_reads_the_prefix_from_disk(tiny_model, tmp_path):
    first = generator(tiny_model, tmp_path, sha256="a" * 64)
    expected = answer(first)
    whole = first.evaluated_tokens
    assert list(tmp_path.glob("*.kv"))
    second = generator(tiny_model, tmp_path, sha256="a" * 64)  # as a later `rag ask` would
    assert answer(second) == expected and second.evaluated_tokens < whole / 3
    other_model = generator(tiny_model, tmp_path, sha256="b" * 64)  # states belong to one model file
    assert answer(other_model) == expected and other_model.evaluated_tokens == whole
