"""The training loop every tuner shares: seeded, resumable after a kill, CPU by default and CUDA where present.
What is trained and how its loss is computed is a `Trainable`: the embedder (MultipleNegativesRankingLoss on
(question, passage, hard negative): each question must rank its passage above every other passage of the batch
and its hard negative) or the reranker (a cross-encoder scoring (question, passage) 1 and (question, negative) 0).

Why a loop of our own and not `SentenceTransformerTrainer`: that trainer needs `datasets` and `accelerate`, and
its checkpoints (optimizer.pt, rng_state.pth, training_args.bin) are pickles, which this product never writes
or reads. Here a checkpoint is the model in safetensors, the optimizer's tensors in safetensors, and JSON. The
batch order is a function of (seed, epoch), so a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from evals.tuning.examples import Example

STATE = "state.json"
HEAD_LEARNING_RATE = 1e-3
OPTIMIZER = "optimizer.safetensors"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 3e-5
    warmup_share: float = 0.1
    max_seq_length: int = 256
    max_steps: int = 0  # 0: epochs * batches
    checkpoint_every: int = 20
    seed: int = 0
    lora_rank: int = 8  # the generator's LoRA (`evals.tuning.lora`); the retriever's tuners ignore these two
    lora_alpha: float = 16.0


@dataclass(frozen=True)
class StepReport:
    step: int
    total: int
    loss: float
    seconds: float  # since this process started training


class Trainable(Protocol):
    name: str
    needs_negatives: bool  # every example must carry a negative passage

    def load(self, base_path: str, checkpoint: str | None, device: str, config: TrainConfig):
        """The model to train: the base model, or the checkpoint's copy of what is trained when one is given."""

    def save(self, model, folder: Path) -> None:
        """What was trained, in safetensors (and any format the product loads it in)."""

    def parameter_groups(self, model, learning_rate: float) -> list[dict]:
        """The optimizer's parameter groups."""

    def loss(self, model, batch: list[Example], device: str):
        """The batch's loss (a scalar tensor)."""


def _save_sentence_transformer(model, folder: Path) -> None:
    model.save(str(folder), safe_serialization=True, create_model_card=False)


class EmbedderTraining:
    name = "embedder"
    needs_negatives = True
    save = staticmethod(_save_sentence_transformer)

    def load(self, base_path: str, checkpoint: str | None, device: str, config: TrainConfig):
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

        model = SentenceTransformer(checkpoint or base_path, device=device, local_files_only=True)
        model.max_seq_length = config.max_seq_length
        self._loss = MultipleNegativesRankingLoss(model)
        return model

    def parameter_groups(self, model, learning_rate: float) -> list[dict]:
        return [{"params": list(model.parameters()), "lr": learning_rate}]

    def loss(self, model, batch: list[Example], device: str):
        features = [_to(model.preprocess(texts), device) for texts in (
            [e.question for e in batch], [e.passage for e in batch], [e.negative for e in batch])]
        return self._loss(features, None)


class RerankerTraining:
    name = "reranker"
    needs_negatives = True
    save = staticmethod(_save_sentence_transformer)

    def load(self, base_path: str, checkpoint: str | None, device: str, config: TrainConfig):
        import torch
        from sentence_transformers import CrossEncoder

        model = CrossEncoder(checkpoint or base_path, num_labels=1, device=device, max_length=config.max_seq_length,
                             local_files_only=True)
        self._bce = torch.nn.BCEWithLogitsLoss()
        self._max_length = config.max_seq_length
        return model

    def parameter_groups(self, model, learning_rate: float) -> list[dict]:
        """The pretrained body at the given rate; the fresh one-logit head, which starts at chance, at
        HEAD_LEARNING_RATE (at the body's rate it barely moves in the few hundred steps a CPU affords)."""
        head = [p for name, p in model.named_parameters() if "classifier" in name]
        body = [p for name, p in model.named_parameters() if "classifier" not in name]
        return [{"params": body, "lr": learning_rate},
                {"params": head, "lr": max(learning_rate, HEAD_LEARNING_RATE)}]

    def loss(self, model, batch: list[Example], device: str):
        import torch

        questions = [e.question for e in batch] * 2
        passages = [e.passage for e in batch] + [e.negative for e in batch]
        features = model.tokenizer(questions, passages, truncation="longest_first", max_length=self._max_length,
                                   padding=True, return_tensors="pt")
        logits = model.model(**_to(features, device)).logits.squeeze(-1)
        labels = torch.tensor([1.0] * len(batch) + [0.0] * len(batch), device=logits.device)
        return self._bce(logits.float(), labels)


def fingerprint(base_sha256: str, examples: list, config: TrainConfig, kind: str = "embedder") -> str:
    """What a checkpoint must match to be resumed: the base model, the data and the settings."""
    digest = hashlib.sha256(f"{kind}:{base_sha256}".encode())
    digest.update(json.dumps(asdict(config), sort_keys=True).encode())
    for example in examples:
        digest.update(json.dumps(example.to_json(), sort_keys=True).encode())
    return digest.hexdigest()


def total_steps(count: int, config: TrainConfig) -> int:
    steps = config.epochs * math.ceil(count / config.batch_size)
    return min(steps, config.max_steps) if config.max_steps else steps


def train(trainable: Trainable, base_path: str, base_sha256: str, examples: list, work_dir: Path,
          config: TrainConfig, *, device: str = "cpu", on_step: Callable[[StepReport], None] | None = None) -> dict:
    """Trains from `base_path` (or from the checkpoint in `work_dir` that matches) and saves the model to
    `work_dir/model`; returns what the card records about the training."""
    import torch
    from transformers import get_linear_schedule_with_warmup
    from transformers.utils import logging as transformers_logging

    from rag.machine import cpu_has_bf16

    if not examples:
        raise ValueError("no training examples")
    if trainable.needs_negatives and any(not e.negative for e in examples):
        raise ValueError("every training example needs a negative passage")
    transformers_logging.disable_progress_bar()
    work_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = work_dir / "checkpoint"
    print_ = fingerprint(base_sha256, examples, config, trainable.name)
    state = _read_state(checkpoint)
    resumed = state is not None and state["fingerprint"] == print_
    start_step = state["step"] if resumed else 0
    torch.manual_seed(config.seed)  # a fresh head (the reranker's) starts the same in every run
    transformers_logging.set_verbosity_error()  # the "newly initialized head" report is expected here
    model = trainable.load(base_path, str(checkpoint / "model") if resumed else None, device, config)
    optimizer = torch.optim.AdamW(trainable.parameter_groups(model, config.learning_rate))
    if resumed:
        _load_optimizer(optimizer, checkpoint, config.learning_rate)
    steps = total_steps(len(examples), config)
    schedule = get_linear_schedule_with_warmup(optimizer, int(steps * config.warmup_share), steps)
    with warnings.catch_warnings():  # replaying the schedule up to the resumed step, without optimizer steps
        warnings.simplefilter("ignore")
        for _ in range(start_step):
            schedule.step()
    bf16 = device == "cpu" and cpu_has_bf16()
    per_epoch = math.ceil(len(examples) / config.batch_size)
    step, started, losses = start_step, time.perf_counter(), []
    model.train()
    for epoch in range(config.epochs):
        order = random.Random(f"{config.seed}:{epoch}").sample(range(len(examples)), len(examples))
        for batch_no in range(per_epoch):
            if epoch * per_epoch + batch_no < start_step:
                continue
            if step >= steps:
                break
            torch.manual_seed(config.seed * 1_000_003 + step)  # dropout per step: a resumed run repeats it
            batch = [examples[i] for i in order[batch_no * config.batch_size:(batch_no + 1) * config.batch_size]]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = trainable.loss(model, batch, device)
            loss.float().backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            losses.append(float(loss.detach()))
            if step % config.checkpoint_every == 0 and step < steps:
                _save_checkpoint(trainable, model, optimizer, checkpoint, {"fingerprint": print_, "step": step})
            if on_step is not None:
                on_step(StepReport(step, steps, losses[-1], time.perf_counter() - started))
    model.eval()
    final = work_dir / "model"
    tmp = work_dir / "model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    trainable.save(model, tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    shutil.rmtree(checkpoint, ignore_errors=True)
    seconds = time.perf_counter() - started
    trained = step - start_step
    return {"steps": step, "resumed_at_step": start_step, "examples": len(examples), "bf16": bf16,
            "device": device, "train_seconds": round(seconds, 1),
            "seconds_per_step": round(seconds / trained, 2) if trained else None,
            "first_loss": round(losses[0], 4) if losses else None,
            "last_loss": round(sum(losses[-10:]) / len(losses[-10:]), 4) if losses else None,
            "config": asdict(config)}


def _to(features: dict, device: str) -> dict:
    return {name: value.to(device) if hasattr(value, "to") else value for name, value in dict(features).items()}


def _read_state(checkpoint: Path) -> dict | None:
    try:
        return json.loads((checkpoint / STATE).read_text())
    except (OSError, ValueError):
        return None


def _save_checkpoint(trainable: Trainable, model, optimizer, checkpoint: Path, state: dict) -> None:
    """Written beside the old one and swapped in, so a kill leaves one whole checkpoint (or none)."""
    from safetensors.torch import save_file

    tmp = checkpoint.with_name("checkpoint.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    trainable.save(model, tmp / "model")
    tensors, groups = _flatten_optimizer(optimizer)
    save_file(tensors, str(tmp / OPTIMIZER))
    (tmp / STATE).write_text(json.dumps({**state, "param_groups": groups}))
    old = checkpoint.with_name("checkpoint.old")
    shutil.rmtree(old, ignore_errors=True)
    if checkpoint.exists():
        os.replace(checkpoint, old)
    os.replace(tmp, checkpoint)
    shutil.rmtree(old, ignore_errors=True)


def _flatten_optimizer(optimizer) -> tuple[dict, list]:
    state = optimizer.state_dict()
    tensors = {f"{index}.{name}": value.detach().contiguous().cpu()
               for index, values in state["state"].items() for name, value in values.items()}
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items()}
              for group in state["param_groups"]]
    return tensors, groups


def _load_optimizer(optimizer, checkpoint: Path, learning_rate: float) -> None:
    from safetensors.torch import load_file

    tensors = load_file(str(checkpoint / OPTIMIZER))
    groups = json.loads((checkpoint / STATE).read_text())["param_groups"]
    per_param: dict[int, dict] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        per_param.setdefault(int(index), {})[name] = value
    for group in groups:  # the schedule is replayed from each group's base rate
        group["lr"] = group.get("initial_lr", learning_rate)
        group.pop("initial_lr", None)
        group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": per_param, "param_groups": groups})


def train_embedder(base_path: str, base_sha256: str, examples: list[Example], work_dir: Path, config: TrainConfig,
                   **options) -> dict:
    return train(EmbedderTraining(), base_path, base_sha256, examples, work_dir, config, **options)
