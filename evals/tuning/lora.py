"""The generator's LoRA: the GGUF base model read into PyTorch (transformers dequantizes GGUF files of the llama
and qwen2 architectures), a LoRA trained on it with peft, and the adapter written as a GGUF LoRA file that
llama.cpp applies to the very quantized file it was trained from (`rag tune use`, or RAG_GENERATOR__LORA_PATH).

The loss is next-token cross-entropy on the answer's tokens only; the prompt is context. Every answer prompt
starts with the same fixed prefix (the system message and the worked examples: about 940 of 1,100 tokens with
the default model), so a batch evaluates that prefix once, without gradients, and each example's own tokens
attend to its key/value states. The forward pass is exact (the prefix goes through the current adapter); only
the gradient that would flow back through the prefix's states is left out. On CPU that is about half the work
of a step that runs every example whole.

Checkpoints are the adapter's tensors in safetensors (never a pickle); the GGUF adapter is written beside them.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

from evals.tuning.training import TrainConfig
from rag.tuned_models import ADAPTER

TENSORS = "adapter.safetensors"
# Hugging Face module names -> the GGUF tensor names llama.cpp gives the same weights.
TARGETS = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
           "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}
ARCHITECTURES = ("llama", "qwen2")  # what transformers reads from GGUF and the product's models use
IGNORE = -100
_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$")


class GeneratorTraining:
    name = "generator"
    needs_negatives = False

    def load(self, base_path: str, checkpoint: str | None, device: str, config: TrainConfig):
        import torch
        from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
        from safetensors.torch import load_file
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as transformers_logging

        from rag.machine import cpu_has_bf16

        path = Path(base_path)
        transformers_logging.disable_progress_bar()
        # The frozen base in bfloat16 where the hardware computes in it (half the memory: the 1.5B model's
        # step peaked at 24 GB in float32, and took 79 s against 33 s); the LoRA itself stays float32.
        dtype = torch.bfloat16 if device == "cuda" or cpu_has_bf16() else torch.float32
        with _quiet_gguf_reader():
            base = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=dtype,
                                                        local_files_only=True)
        if base.config.model_type not in ARCHITECTURES:
            raise ValueError(f"{path.name}: a {base.config.model_type} model; LoRA tuning reads "
                             f"{' and '.join(ARCHITECTURES)} GGUF files")
        lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, lora_dropout=0.0,
                          target_modules=list(TARGETS), bias="none")
        model = get_peft_model(base, lora)
        if checkpoint:
            set_peft_model_state_dict(model, load_file(str(Path(checkpoint) / TENSORS)))
        return model.to(device)

    def parameter_groups(self, model, learning_rate: float) -> list[dict]:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": learning_rate}]

    def loss(self, model, batch: list, device: str):
        """Mean cross-entropy of the answers' tokens (`AnswerExample.prompt_tokens` then `target_tokens`)."""
        import torch

        prefix = _shared_prefix(batch)
        rows = [e.prompt_tokens[len(prefix):] + e.target_tokens for e in batch]
        width = max(len(r) for r in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(rows), width + len(prefix)), dtype=torch.long)
        for i, (row, example) in enumerate(zip(rows, batch)):
            ids[i, :len(row)] = torch.tensor(row)
            labels[i, len(row) - len(example.target_tokens):len(row)] = torch.tensor(example.target_tokens)
            mask[i, :len(prefix) + len(row)] = 1
        cache = None
        if prefix:
            with torch.no_grad():
                cache = model(input_ids=torch.tensor([prefix], device=device), use_cache=True).cache
            cache.batch_repeat_interleave(len(rows))
        positions = torch.arange(len(prefix), len(prefix) + width).unsqueeze(0).expand(len(rows), -1)
        base = model.get_base_model()  # its layers carry the LoRA; the vocabulary projection runs only where
        hidden = base.model(input_ids=ids.to(device), attention_mask=mask.to(device),  # an answer token is next
                            position_ids=positions.to(device), cache=cache, use_cache=cache is not None
                            ).last_hidden_state
        wanted = labels[:, 1:] != IGNORE
        logits = base.lm_head(hidden[:, :-1][wanted.to(device)])
        return torch.nn.functional.cross_entropy(logits.float(), labels[:, 1:][wanted].to(device))

    def save(self, model, folder: Path) -> None:
        from peft import get_peft_model_state_dict
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        state = get_peft_model_state_dict(model, save_embedding_layers=False)
        tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
        save_file(tensors, str(folder / TENSORS))
        export_gguf(model, folder / ADAPTER)


@contextmanager
def _quiet_gguf_reader():
    """transformers' GGUF reader draws its own tqdm bar on stderr, ignoring disable_progress_bar(); it would tear
    through the tuner's progress bars, so its module's `tqdm` is a pass-through while it reads."""
    from transformers import modeling_gguf_pytorch_utils as reader

    original = getattr(reader, "tqdm", None)
    reader.tqdm = lambda iterable, *args, **kwargs: iterable
    try:
        yield
    finally:
        if original is not None:
            reader.tqdm = original


def _shared_prefix(batch: list) -> list[int]:
    """The fixed prompt prefix every example of the batch starts with (empty when they differ)."""
    first = batch[0].prompt_tokens[:batch[0].prefix]
    return first if all(e.prompt_tokens[:e.prefix] == first for e in batch) else []


def export_gguf(model, path: Path) -> Path:
    """The trained LoRA as a GGUF adapter. llama.cpp computes W x + (alpha / rank) B A x, as peft does, so the
    tensors are written as they are, except that llama GGUF files store the query and key projections with
    their rows permuted for llama.cpp's rotary embedding (convert_hf_to_gguf.py): B is permuted the same way."""
    import gguf

    config = model.get_base_model().config
    lora = model.peft_config["default"]
    writer = gguf.GGUFWriter(str(path), config.model_type)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(lora.lora_alpha))
    found = {}
    for key, value in model.state_dict().items():
        match = _KEY.search(key.replace(".default", ""))
        if match:
            layer, module, side = match.groups()
            found[(int(layer), module, side)] = value.detach().float().cpu().numpy()
    if not found:
        raise ValueError("the model has no LoRA tensors to export")
    for (layer, module, side), value in sorted(found.items()):
        if config.model_type == "llama" and side == "B" and module in ("q_proj", "k_proj"):
            heads = config.num_attention_heads if module == "q_proj" else config.num_key_value_heads
            value = _permute_rows(value, heads)
        writer.add_tensor(f"blk.{layer}.{TARGETS[module]}.weight.lora_{side.lower()}", value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _permute_rows(weights, heads: int):
    """convert_hf_to_gguf.py's LlamaModel.permute: each head's rows interleaved for llama.cpp's rope."""
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))
