"""`rag tune embedder|reranker|generator`: the collection's embedder fine-tuned, a cross-encoder reranker
trained, or a LoRA of the local generation model trained, on questions made from its own chunks; measured on a
held-out part before and after, and adopted only when it beats the base (the base embedder; for the reranker,
the fused order it would reorder; the generation model without adapter) by the stated margin.

A run is a row in `tuned_models` (status training -> adopted | trained | rejected) and a folder under
`<data dir>/tuned/<kind>-<id>` holding the examples, the training checkpoint and the model. Run the same
command again after a kill and it resumes from its examples and its last checkpoint (the same command run twice
at once is refused: the training process holds the run's lock); nothing is adopted until the evaluation has
passed the gate. A run with other training options reuses the questions of an earlier one made the same way.
Each run stores two evaluation runs (base and tuned, per-question rows), so `rag eval compare BEFORE AFTER`
gives the difference with a confidence interval.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from filelock import Timeout

from evals.tuning.examples import Example, HeuristicQuestions, ModelQuestions, make_examples
from evals.tuning.generator_kind import GeneratorKind
from evals.tuning.retriever_kinds import EmbedderKind, RerankerKind, RetrieverKind, chunk_count, training_device
from evals.tuning.run_protocol import Progress, TuningError  # noqa: F401 - callers import TuningError here
from evals.tuning.training import TrainConfig, total_steps, train
from rag.hashing import sha256_file
from rag.tuned_models import run_lock, tuned_model_id, weights_file
from rag.workspace import Workspace

log = logging.getLogger(__name__)
MIN_CHUNKS = 100
MIN_TRAIN = 64
MIN_HELD_OUT = 20


class _Silent:
    def stage(self, name: str, total: int | None) -> None:
        log.info("%s", name)

    def advance(self, count: int = 1, info: str = "") -> None:
        pass


@dataclass(frozen=True)
class TuneOptions:
    examples: int = 1500  # chunks sampled for questions
    held_out_share: float = 0.2
    questions: str = "auto"  # auto (the model where installed) | model | heuristic
    margin: float | None = None  # the gain of the kind's held-out figure needed to adopt (None: the kind's own)
    adopt: bool = True
    labelled: str | None = None  # a BEIR folder of this collection's corpus: scored, never trained on
    labelled_split: str | None = None
    labelled_limit: int = 0  # score only this many of its judged queries, evenly spread (0: all)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_json(self) -> dict:
        return asdict(self)


def plan(workspace: Workspace, collection: str, options: TuneOptions, kind_name: str = "embedder") -> dict:
    """What a run would do (`--dry-run`), checking everything that can be checked without training."""
    kind = _kind(kind_name)
    model_id, path, sha = kind.base(workspace)
    store = workspace.store
    with store.session() as session:
        coll = store.collection(session, collection)
        chunks = store.count_chunks(session, coll.id)
    if chunks < MIN_CHUNKS:
        raise TuningError(f"collection {collection!r} has {chunks} chunks; tuning needs at least {MIN_CHUNKS} "
                          "(fewer held-out questions cannot tell a gain from noise). Ingest more documents first.")
    if isinstance(kind, RetrieverKind) and coll.embedding_model \
            and coll.embedding_model != workspace.embedder.model_id \
            and not coll.embedding_model.startswith("tuned-"):
        raise TuningError(f"collection {collection!r} was embedded with {coll.embedding_model!r}, not the "
                          f"configured {workspace.embedder.model_id!r}; set RAG_EMBEDDING__MODEL back first")
    writer = question_writer(workspace, options.questions, kind.heuristic)
    sampled = min(options.examples, chunks)
    train_guess = int(sampled * (1 - options.held_out_share) * kind.examples_per_question)
    return {"collection": collection, "kind": kind.name, "chunks": chunks, "base_model": model_id,
            "base_path": path, "base_sha256": sha, "questions": writer.name, "chunks_sampled": sampled,
            "planned_steps": total_steps(train_guess, options.train), "device": training_device(workspace),
            "options": options.to_json()}


def question_writer(workspace: Workspace, choice: str, heuristic=HeuristicQuestions):
    if choice not in ("auto", "model", "heuristic"):
        raise TuningError(f"questions {choice!r}: use auto, model or heuristic")
    generator = workspace.generator() if choice != "heuristic" else None
    if generator is None:
        if choice == "model":
            raise TuningError("no generation model is installed to write questions: `rag models install`, "
                              "or use --questions heuristic")
        return heuristic()
    from rag.judges.choice import build_judge

    return ModelQuestions(generator, build_judge("alignment", workspace.embedder))


KINDS = {kind.name: kind for kind in (EmbedderKind(), RerankerKind(), GeneratorKind())}


def _kind(name: str):
    if name not in KINDS:
        raise TuningError(f"kind {name!r}: use {', '.join(KINDS)}")
    return KINDS[name]


def tune_embedder(workspace: Workspace, collection: str, options: TuneOptions,
                  progress: Progress | None = None) -> dict:
    return tune(workspace, collection, "embedder", options, progress)


def tune(workspace: Workspace, collection: str, kind_name: str, options: TuneOptions,
         progress: Progress | None = None) -> dict:
    """Trains, evaluates, gates and (when it passes and `options.adopt`) adopts; returns the card."""
    kind = _kind(kind_name)
    progress = progress or _Silent()
    started = time.perf_counter()
    planned = plan(workspace, collection, options, kind.name)
    row, resumed = _run_row(workspace, collection, kind.name, planned)
    lock = run_lock(workspace.settings, row)
    try:
        lock.acquire()
    except Timeout:
        raise TuningError(f"tuning run {row.id} with these options is already running in another process: wait "
                          "for it (`rag tune list`) or stop it, then run this again") from None
    try:
        return _run(workspace, kind, collection, options, planned, row, resumed, progress, started)
    finally:
        lock.release()


def _run(workspace: Workspace, kind, collection: str, options: TuneOptions, planned: dict, row, resumed: bool,
         progress: Progress, started: float) -> dict:
    store, settings = workspace.store, workspace.settings
    work_dir = settings.data_dir / row.path
    card = {"kind": kind.name, "id": row.id, "model_id": row.model_id, "collection": collection,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "resumed": resumed,
            **{k: planned[k] for k in ("base_model", "base_sha256", "questions", "chunks", "device", "options")}}
    try:
        split = _examples(workspace, kind, collection, options, row, planned["questions"], progress)
        card.update(chunks_sampled=split["chunks_sampled"], train_examples=len(split["train"]),
                    held_out_examples=len(split["held_out"]), questions_from=split.get("questions_from"))
        if len(split["train"]) < MIN_TRAIN or len(split["held_out"]) < MIN_HELD_OUT:
            raise TuningError(f"only {len(split['train'])} training and {len(split['held_out'])} held-out questions "
                              f"could be made from collection {collection!r} (at least {MIN_TRAIN} and "
                              f"{MIN_HELD_OUT} are needed): ingest more documents or raise --examples")
        steps = total_steps(len(split["train"]), options.train)
        progress.stage(f"training the {kind.name} ({len(split['train'])} examples)", steps)
        card["training"] = train(kind.trainable, planned["base_path"], planned["base_sha256"], split["train"],
                                 work_dir, options.train, device=planned["device"],
                                 on_step=lambda r: progress.advance(1, f"loss {r.loss:.3f}"))
        card["weights_sha256"] = sha256_file(work_dir / "model" / weights_file(kind.name))
        with store.session() as session:
            store.set_tuned_status(session, row.id, "training", card)
            row = store.tuned_model(session, row.id)
            session.expunge(row)
        coll = _collection(workspace, collection)
        tuned = kind.prepare(workspace, row, coll, progress)
        progress.stage("evaluating base and tuned", None)
        card.update(_before_after(workspace, kind, coll, tuned, split["held_out"], options, work_dir, started))
        card.update(kind.gate(card, kind.default_margin if options.margin is None else options.margin))
        card["figures"] = kind.figures(card)
    except (OSError, KeyboardInterrupt) as exc:
        with store.session() as session:
            store.set_tuned_status(session, row.id, "training", card)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise TuningError(f"tuning stopped: {exc}. Free the space or fix the cause and run the same command "
                          f"again: it resumes from {work_dir}") from exc
    except Exception:
        with store.session() as session:
            store.set_tuned_status(session, row.id, "failed", card)
        raise
    card["seconds"] = round(time.perf_counter() - started, 1)
    if card["gate"]["passed"] and options.adopt:
        progress.stage(f"adopting the tuned {kind.name}", None)
        kind.adopt(workspace, coll, tuned, row)
        card["adopted"], status = True, "adopted"
        card["gate"]["reason"] += ", adopted"
    else:
        card["adopted"] = False
        status = "trained" if card["gate"]["passed"] else "rejected"
        if status == "trained":
            card["gate"]["reason"] += f"; not adopted (--no-adopt): `rag tune use {row.id}` switches to it"
        if status == "rejected":
            kind.reject(workspace, row)
    with store.session() as session:
        store.set_tuned_status(session, row.id, status, card)
    (work_dir / "card.json").write_text(json.dumps(card, indent=2))
    return card


def _collection(workspace: Workspace, name: str):
    with workspace.store.session() as session:
        coll = workspace.store.collection(session, name)
        session.expunge(coll)
    return coll


def _run_row(workspace: Workspace, collection: str, kind: str, planned: dict):
    """The unfinished run with the same plan (resumed), else a new one."""
    store = workspace.store
    with store.session() as session:
        coll = store.collection(session, collection)
        for row in store.tuned_models(session, coll.id, kind):
            if row.status == "training" and (row.card or {}).get("options") == planned["options"] \
                    and row.base_sha256 == planned["base_sha256"]:
                return row, True
        row = store.add_tuned_model(session, kind=kind, collection_id=coll.id, model_id="pending",
                                    base_model=planned["base_model"], base_sha256=planned["base_sha256"],
                                    path="pending", status="training",
                                    card={"options": planned["options"]})
        row.model_id = tuned_model_id(kind, row.id)
        row.path = f"tuned/{kind}-{row.id}"
        session.flush()
        session.expunge(row)
    shutil.rmtree(workspace.settings.data_dir / row.path, ignore_errors=True)
    return row, False


def _examples(workspace: Workspace, kind, collection: str, options: TuneOptions, row, writer_name: str,
              progress: Progress) -> dict:
    """The run's questions (and the kind's training examples from them), made once and kept in its folder
    (writing them with the model is the slow part), or taken from an earlier run that made them the same way."""
    work_dir = workspace.settings.data_dir / row.path
    path = work_dir / "examples.json"
    coll = _collection(workspace, collection)
    if not path.is_file() and (earlier := _same_questions(workspace, kind, coll, options, writer_name, row.id)):
        earlier_id, earlier_path = earlier
        work_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**json.loads(earlier_path.read_text()), "questions_from": earlier_id}))
        tmp.replace(path)
    if path.is_file():
        saved = json.loads(path.read_text())
        return {**saved, "train": [kind.train_type(**e) for e in saved["train"]],
                "held_out": [Example(**e) for e in saved["held_out"]]}
    writer = question_writer(workspace, options.questions, kind.heuristic)
    progress.stage(f"questions ({writer.name})", min(options.examples, chunk_count(workspace, coll)))
    lexical = (lambda q, k: workspace.store.lexical_search(coll.id, q, k)) if kind.negatives else None
    split = make_examples(workspace.store, coll.id, writer, count=options.examples, seed=options.train.seed,
                          held_out_share=options.held_out_share, lexical=lexical,
                          progress=lambda n: progress.advance(n))
    train = kind.training_examples(workspace, coll, split.train, progress)
    saved = {"questions": split.questions, "chunks_sampled": split.chunks_sampled, "train_questions": len(split.train),
             "train": [e.to_json() for e in train], "held_out": [e.to_json() for e in split.held_out]}
    work_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(saved))
    tmp.replace(path)
    return {**saved, "train": train, "held_out": split.held_out}


def _same_questions(workspace: Workspace, kind, coll, options: TuneOptions, writer: str,
                    row_id: int) -> tuple[int, Path] | None:
    """An earlier run of this kind and collection whose questions were made the same way (writer, chunks
    sampled, seed, held-out share) from chunks the collection still holds: trying other training options then
    costs only the training."""
    def made_as(opts: dict) -> tuple:
        return opts.get("examples"), opts.get("held_out_share"), (opts.get("train") or {}).get("seed")

    store = workspace.store
    with store.session() as session:
        rows = [r for r in store.tuned_models(session, coll.id, kind.name) if r.id != row_id
                and made_as((r.card or {}).get("options") or {}) == made_as(options.to_json())]
    for earlier in rows:
        path = workspace.settings.data_dir / earlier.path / "examples.json"
        if not path.is_file():
            continue
        saved = json.loads(path.read_text())
        ids = {e["chunk_id"] for e in saved["train"] + saved["held_out"]}
        with store.session() as session:
            held = {c.chunk_id for c in store.chunk_texts_by_id(session, sorted(ids))}
        if saved.get("questions") == writer and held == ids:
            return earlier.id, path
    return None


def _before_after(workspace: Workspace, kind, coll, tuned, held_out: list[Example], options: TuneOptions,
                  work_dir: Path, started: float) -> dict:
    from evals.beir import load_beir
    from rag.runs import save_run

    dataset = load_beir(Path(options.labelled), options.labelled_split) if options.labelled else None
    if dataset is not None and 0 < options.labelled_limit < len(dataset.queries):
        keys = list(dataset.queries)
        step = len(keys) / options.labelled_limit
        dataset.queries = {keys[int(i * step)]: dataset.queries[keys[int(i * step)]]
                           for i in range(options.labelled_limit)}
    source = Path(options.labelled) if options.labelled else work_dir / "examples.json"
    out, runs = {}, {}
    for name, model in (("before", None), ("after", tuned)):
        items: list[dict] = []
        result = kind.measure(workspace, coll, model, held_out, dataset, items)
        metrics = {"model": result["model"], **{f"held-out.{k}": v for k, v in result["held_out"].items()}}
        for method, values in result.get("labelled", {}).items():
            metrics.update({f"labelled.{method}.{k}": v for k, v in values.items()})
        runs[name] = save_run(workspace.store, workspace.settings, f"tune-{kind.name}-{name}", source, metrics,
                              items, time.perf_counter() - started, coll.name, options.train.seed)
        out[name] = result
    return {**out, "runs": runs}
