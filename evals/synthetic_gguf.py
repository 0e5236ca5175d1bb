"""Random-weight GGUF models of a given shape, for tests and benchmarks (no model hub is reachable here).

A llama-architecture model with an embedded byte-fallback SentencePiece vocabulary and a ChatML chat template
loads in llama.cpp like any downloaded model. Its text is noise, but loading, streaming, stop sequences, context
limits and grammars behave as with a real model, and decode speed depends on the shape, not on weight values.
Recipe facts: ../shared/docs/ENVIRONMENT.md.
"""

from __future__ import annotations

import ctypes
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# A template that tries to reach Python internals: llama-cpp-python's sandbox must refuse to render it.
ESCAPING_TEMPLATE = "{{ ''.__class__.__mro__[1].__subclasses__() }}" + CHATML_TEMPLATE

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
UNK, BOS, EOS_TEXT, IM_START, IM_END = range(5)
_WORDS = ("the of and to in is was for on as by with that from at are this which be source answer question "
          "document page not don't documents The answer").split()


@dataclass(frozen=True)
class ModelShape:
    vocab: int
    embd: int
    layers: int
    heads: int
    kv_heads: int
    ff: int
    context: int = 4096


SHAPES = {
    "tiny": ModelShape(vocab=512, embd=64, layers=2, heads=4, kv_heads=2, ff=128),
    # the layouts of Qwen2.5-0.5B and -1.5B (vocabulary 151,936), as llama-architecture models
    "0.5b": ModelShape(vocab=151_936, embd=896, layers=24, heads=14, kv_heads=2, ff=4864),
    "1.5b": ModelShape(vocab=151_936, embd=1536, layers=28, heads=12, kv_heads=2, ff=8960),
}


def vocabulary(size: int) -> tuple[list[str], list[float], list[int]]:
    """Control tokens, the 256 byte tokens, printable characters and words, then numbered filler pieces."""
    tokens = list(SPECIAL_TOKENS)
    types = [2, 3, 3, 3, 3]  # UNKNOWN, CONTROL...
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [6] * 256  # BYTE
    pieces = ["\u2581"] + [c for c in string.ascii_letters + string.digits + string.punctuation]
    pieces += ["\u2581" + w for w in _WORDS] + ["\u2581[", "]", "]."]
    seen = set(tokens)
    for piece in pieces:
        if piece not in seen and len(tokens) < size:
            seen.add(piece)
            tokens.append(piece)
            types.append(1)
    i = 0
    while len(tokens) < size:
        tokens.append(f"\u2581w{i}")
        types.append(1)
        i += 1
    scores = [0.0] * 261 + [-float(i) for i in range(len(tokens) - 261)]
    return tokens, scores, types


def write_model(path: Path, shape: ModelShape = SHAPES["tiny"], *, chat_template: str | None = CHATML_TEMPLATE,
                dtype: str = "f32", seed: int = 0) -> Path:
    """Writes a random-weight llama model (f32 or f16 weights) with tokenizer and chat template."""
    import gguf  # imported here: only tests and benchmarks build models

    rng = np.random.default_rng(seed)
    np_dtype = {"f32": np.float32, "f16": np.float16}[dtype]
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(f"groundwork-synthetic-{shape.embd}x{shape.layers}")
    writer.add_context_length(shape.context)
    writer.add_embedding_length(shape.embd)
    writer.add_block_count(shape.layers)
    writer.add_feed_forward_length(shape.ff)
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.kv_heads)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_dimension_count(shape.embd // shape.heads)
    writer.add_file_type(0 if dtype == "f32" else 1)
    tokens, scores, types = vocabulary(shape.vocab)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(BOS)
    writer.add_eos_token_id(IM_END)
    writer.add_unk_token_id(UNK)
    writer.add_add_bos_token(False)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    def weight(*dims: int) -> np.ndarray:
        return (rng.standard_normal(dims, dtype=np.float32) * 0.02).astype(np_dtype)

    head_dim = shape.embd // shape.heads
    kv = shape.kv_heads * head_dim
    writer.add_tensor("token_embd.weight", weight(shape.vocab, shape.embd))
    for layer in range(shape.layers):
        prefix = f"blk.{layer}."
        writer.add_tensor(prefix + "attn_norm.weight", np.ones(shape.embd, np.float32))
        writer.add_tensor(prefix + "attn_q.weight", weight(shape.embd, shape.embd))
        writer.add_tensor(prefix + "attn_k.weight", weight(kv, shape.embd))
        writer.add_tensor(prefix + "attn_v.weight", weight(kv, shape.embd))
        writer.add_tensor(prefix + "attn_output.weight", weight(shape.embd, shape.embd))
        writer.add_tensor(prefix + "ffn_norm.weight", np.ones(shape.embd, np.float32))
        writer.add_tensor(prefix + "ffn_gate.weight", weight(shape.ff, shape.embd))
        writer.add_tensor(prefix + "ffn_up.weight", weight(shape.ff, shape.embd))
        writer.add_tensor(prefix + "ffn_down.weight", weight(shape.embd, shape.ff))
    writer.add_tensor("output_norm.weight", np.ones(shape.embd, np.float32))
    writer.add_tensor("output.weight", weight(shape.vocab, shape.embd))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def quantize(source: Path, target: Path, kind: str = "Q4_K_M", threads: int = 0) -> Path:
    """Quantizes with llama.cpp's own quantizer (K-quants included)."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}")
    params.nthread = threads
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
    if status != 0:
        raise RuntimeError(f"llama.cpp could not quantize {source} to {kind} (status {status})")
    return target


def write_lora(path: Path, shape: ModelShape = SHAPES["tiny"], *, rank: int = 4, alpha: float = 8.0,
               scale: float = 0.5, seed: int = 1) -> Path:
    """A random LoRA adapter (GGUF) on every layer's attention query and output projections."""
    import gguf

    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for layer in range(shape.layers):
        for name in ("attn_q", "attn_output"):
            base = f"blk.{layer}.{name}.weight"
            writer.add_tensor(base + ".lora_a", (rng.standard_normal((rank, shape.embd)) * scale).astype(np.float32))
            writer.add_tensor(base + ".lora_b", (rng.standard_normal((shape.embd, rank)) * scale).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
