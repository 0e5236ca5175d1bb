"""llama.cpp speed: prompt and decode tokens/s of a GGUF file, bare llama-cpp-python against our generator.

`bench_decoders` measures any model file: three decoders on the same file in the same run (bare
llama-cpp-python, our generator without the grammar, our generator under a citation grammar) and the prompt
through both. `bench_llm` does it on a random-weight model of a real model's shape (decode speed does not depend
on weight values). The bound is memory bandwidth: each decoded token reads every weight except the embedding
table once, so tok/s <= bandwidth / bytes.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

import numpy as np

from evals.synthetic_gguf import SHAPES, quantize, write_model
from rag.answer.citation_grammar import citation_grammar
from rag.answer.contract import ABSTENTION
from rag.generation.generators import LlamaCppGenerator, Prompt
from rag.settings import GeneratorSettings

PROMPT_TEXT = ("The harbour office opens at half past seven on weekdays and closes at four. Ferries leave every "
               "forty minutes in summer and every hour in winter; tickets are sold on board. ")


PROMPT_TOKENS = 512


def bench_model(folder: Path, shape: str, kind: str = "Q4_K_M") -> Path:
    """The benchmark model, built once per shape and kept in `folder`."""
    target = folder / f"random-{shape}-{kind}.gguf"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        source = write_model(folder / f"random-{shape}-f16.gguf", SHAPES[shape], dtype="f16")
        quantize(source, target, kind)
        source.unlink()
    return target


def weight_bytes_per_token(path: Path) -> int:
    from gguf import GGUFReader

    return sum(int(t.n_bytes) for t in GGUFReader(str(path)).tensors if t.name != "token_embd.weight")


def read_bandwidth(threads: int, megabytes: int = 1024, repeats: int = 5) -> float:
    """Bytes per second that `threads` threads read from memory (numpy sums release the GIL)."""
    data = np.ones(megabytes * (1 << 20) // 4, dtype=np.float32)
    parts = np.array_split(data, threads)
    best = 0.0
    for _ in range(repeats):
        workers = [threading.Thread(target=np.add.reduce, args=(p,)) for p in parts]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        best = max(best, data.nbytes / (time.perf_counter() - started))
    return best


def bench_llm(folder: Path, shape: str = "0.5b", tokens: int = 128, repeats: int = 5, threads: int = 0) -> dict:
    built = time.perf_counter()
    path = bench_model(folder, shape)
    build_s = time.perf_counter() - built
    result = bench_decoders(path, tokens, repeats, threads)
    result["model"].update(shape=shape, build_s=round(build_s, 1))
    return result


def bench_decoders(path: Path, tokens: int = 128, repeats: int = 5, threads: int = 0) -> dict:
    threads = threads or len(os.sched_getaffinity(0))
    settings = GeneratorSettings(context_tokens=2048, threads=threads, max_tokens=tokens)
    generator = LlamaCppGenerator(path, settings)
    llm = generator.llm
    for copies in range(1, 64):  # a prompt of about PROMPT_TOKENS in this model's tokens
        prompt = Prompt("Answer from the sources.", PROMPT_TEXT * copies + "\n\nQuestion: Describe the harbour "
                        "office, its hours and its ferries in detail, in many sentences.")
        ids = generator.render(prompt)[0]
        if len(ids) >= PROMPT_TOKENS:
            break

    def prompt_speed() -> float:
        llm.reset()
        llm._ctx.kv_cache_clear()  # noqa: SLF001 - a cold prompt each time
        started = time.perf_counter()
        llm.eval(ids)
        return len(ids) / (time.perf_counter() - started)

    def ours_prompt() -> float:  # render, prefix cache (emptied), evaluation: to the first token
        llm.reset()
        llm._ctx.kv_cache_clear()  # noqa: SLF001
        generator.prefixes.states.clear()
        started = time.perf_counter()
        next(iter(generator.stream(prompt, max_tokens=1)), None)
        return len(ids) / (time.perf_counter() - started)

    def bare() -> float:
        llm.eval(ids) if llm.n_tokens != len(ids) else None
        started = time.perf_counter()
        out = llm.create_completion(ids, max_tokens=tokens, temperature=settings.temperature, top_k=settings.top_k,
                                    top_p=settings.top_p, repeat_penalty=settings.repeat_penalty, seed=settings.seed)
        return out["usage"]["completion_tokens"] / (time.perf_counter() - started)

    def ours(grammar: str | None) -> float:
        started = time.perf_counter()
        for _ in generator.stream(prompt, grammar=grammar, max_tokens=tokens):
            pass
        return generator.generated_tokens / (time.perf_counter() - started)

    grammar = citation_grammar(list(range(1, 9)), ABSTENTION, max_sentences=64)
    prompt_tps = statistics.median(prompt_speed() for _ in range(repeats))
    ours_prompt_tps = statistics.median(ours_prompt() for _ in range(repeats))
    ours(None)  # warm: the prompt is now cached for every decoder below
    decode = {"bare_llama_cpp_python": statistics.median(bare() for _ in range(repeats)),
              "generator_no_grammar": statistics.median(ours(None) for _ in range(repeats)),
              "generator_with_grammar": statistics.median(ours(grammar) for _ in range(repeats))}
    bandwidth = read_bandwidth(threads)
    per_token = weight_bytes_per_token(path)
    bound = bandwidth / per_token
    return {
        "model": {"file": path.name, "file_mb": round(path.stat().st_size / 1e6, 1),
                  "weights_read_per_token_mb": round(per_token / 1e6, 1)},
        "threads": threads, "prompt_tokens": len(ids), "decode_tokens": tokens,
        "prompt_tok_s": round(prompt_tps, 1), "prompt_tok_s_generator": round(ours_prompt_tps, 1),
        "decode_tok_s": {k: round(v, 2) for k, v in decode.items()},
        "grammar_vs_bare": round(decode["generator_with_grammar"] / decode["bare_llama_cpp_python"], 3),
        "memory_read_gb_s": round(bandwidth / 1e9, 1),
        "bandwidth_bound_tok_s": round(bound, 1),
        "bare_vs_bound": round(decode["bare_llama_cpp_python"] / bound, 3),
    }
