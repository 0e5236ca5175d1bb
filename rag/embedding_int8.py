"""The embedding model in int8 through OpenVINO: about twice as fast as torch bf16 on a 2-core CPU.

Embedding is most of ingestion's time on CPU. The sentence-transformers model is converted to OpenVINO's format
and quantized to int8 (weights and activations) by NNCF, with activation ranges taken from the calibration texts
beside this module (the bundled sample corpus's chunks and passages of other kinds: questions, medical and legal
text, code, tables, three other languages). That is done once per machine and model (~35 s on 2 cores) and kept
in RAG_MODELS_DIR/embedders. Measured on 2 cores (AMD EPYC, AVX-512 VNNI/bf16): 400 SciFact abstracts at
83 texts/s against torch bf16's 40 and fp32's 23, cosine to fp32 0.996 mean, 0.991 min; nDCG@10 on SciFact,
CISI and Medline (dense and hybrid) within 0.003 of bf16's. ONNX Runtime's int8 was measured too and not
used (dynamic: 36 texts/s; static: 35 texts/s at cosine 0.94).

Only a model that is a transformer followed by mean pooling (and optionally normalisation) is converted, so
that the int8 copy computes what the model computes; any other goes on through torch. OpenVINO and NNCF are
installed by `make install` without their telemetry package (scripts/install.sh), so nothing is sent anywhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
CALIBRATION = Path(__file__).with_name("embedding_calibration.txt")
PACKAGES = ("openvino", "nncf")


def missing_packages() -> list[str]:
    return [name for name in PACKAGES if importlib.util.find_spec(name) is None]


def convertible(model) -> bool:
    """Whether `model` (a SentenceTransformer) is a transformer, mean pooling and at most a normalisation."""
    names = [type(module).__name__ for module in model]
    if names[:2] != ["Transformer", "Pooling"] or names[2:] not in ([], ["Normalize"]):
        return False
    return getattr(model[1], "pooling_mode", None) == "mean"


def _key(model_path: str) -> str:
    """Changes when the model's files, OpenVINO, NNCF or the calibration texts change."""
    digest = hashlib.sha256(CALIBRATION.read_bytes())
    for name in PACKAGES:
        digest.update(f"{name}={importlib.metadata.version(name)}".encode())
    for path in sorted(Path(model_path).rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(model_path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _features(model, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """The model's own tokenization (its truncation and stripping), as numpy arrays."""
    features = model.preprocess(list(texts))
    return {name: value.numpy() for name, value in features.items()
            if name in ("input_ids", "attention_mask", "token_type_ids")}


def prepare(model, model_path: str, model_id: str, folder: Path) -> Path:
    """The int8 copy of `model` (its .xml path), made and kept in `folder` the first time."""
    from filelock import FileLock

    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in model_id.rsplit("/", 1)[-1])
    target = folder / f"{name}-{_key(model_path)}"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "model.xml").exists():
            return target / "model.xml"
        log.info("quantizing the embedding model to int8 for this machine (once, about half a minute)")
        work = Path(tempfile.mkdtemp(prefix=".int8-", dir=folder))
        try:
            _quantize(model, work / "model.xml")
            os.replace(work, target)  # whole or not at all
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target / "model.xml"


def _quantize(model, path: Path) -> None:
    import nncf
    import openvino as ov
    import torch

    nncf.set_log_level(logging.ERROR)
    texts = [line for line in CALIBRATION.read_text(encoding="utf-8").splitlines() if line.strip()]
    example = {name: torch.from_numpy(value) for name, value in _features(model, texts[:2]).items()}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on data-dependent branches it keeps dynamic
        converted = ov.convert_model(model[0].auto_model.eval(), example_input=example)
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bars; stdout may be a command's JSON
        quantized = nncf.quantize(converted, nncf.Dataset(texts, lambda text: _features(model, [text])),
                                  model_type=nncf.ModelType.TRANSFORMER, subset_size=len(texts))
    ov.save_model(quantized, str(path))


class Int8Encoder:
    """Mean-pooled token vectors from the int8 copy (not normalised; the embedder normalises). Batches run as
    OpenVINO's throughput mode runs them, several at once (2 cores: 83 texts/s against 74 one at a time)."""

    def __init__(self, model, xml: Path, bf16: bool):
        import openvino as ov

        self.model = model
        hint = "bf16" if bf16 else "f32"  # the layers left in floating point
        self.compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": hint,
                                                                  "PERFORMANCE_HINT": "THROUGHPUT"})
        self.streams = max(1, int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self.requests = self.streams + 1  # one more than run at once: the next batch is tokenized and waiting
        self.inputs = {port.get_any_name() for port in self.compiled.inputs}
        self.dim = self.compiled.outputs[0].get_partial_shape()[2].get_length()

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        order = np.argsort([-len(text) for text in texts], kind="stable")  # less padding, as torch's path does
        out = np.zeros((len(texts), self.dim), np.float32)
        # A question's few dozen sentences are shared evenly between the streams rather than sent as one full
        # batch and a small one (2 cores, 20 SQuAD questions: 0.18 s instead of 0.25 s a question)
        batch_size = max(1, min(batch_size, -(-len(texts) // self.streams)))
        # Requests are waited on here rather than given a Python callback: a callback's wrapper still holds
        # or wants the GIL after the batch ends, and a compiled model freed then hangs joining its threads.
        requests = [self.compiled.create_infer_request() for _ in range(self.requests)]  # per call: thread-safe
        pending: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(requests)

        def collect(slot: int) -> None:
            rows, mask = pending[slot]
            requests[slot].wait()
            tokens = requests[slot].get_output_tensor(0).data
            out[rows] = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            pending[slot] = None

        for batch, start in enumerate(range(0, len(texts), batch_size)):
            slot = batch % len(requests)
            rows = order[start:start + batch_size]
            features = _features(self.model, [texts[i] for i in rows])  # while the earlier batches run
            if pending[slot] is not None:
                collect(slot)
            requests[slot].start_async({k: v for k, v in features.items() if k in self.inputs})
            pending[slot] = (rows, features["attention_mask"][..., None].astype(np.float32))
        for slot in range(len(requests)):
            if pending[slot] is not None:
                collect(slot)
        return out
