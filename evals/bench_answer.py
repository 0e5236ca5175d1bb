"""`rag bench answer`: what a question costs with each installed model, end to end (JSON).

For each model: time to the first streamed token and to the finished, verified answer (p50/p95) on the sample
corpus and on evenly spread SQuAD questions (their paragraphs are the collection), after one warm-up question
(model loading and the fixed prompt prefix are reported apart, as a cold start); then prompt and decode
tokens/s through our generator against bare llama-cpp-python on the same file (`bench_decoders`).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import typer

from evals.bench_query import SAMPLE_QUESTIONS, _machine, _record
from ingest.bench import bench_group
from rag.cli.context import context


def register(app: typer.Typer) -> None:
    bench_group(app).command("answer")(bench_answer)


def _percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"p50_s": round(statistics.median(ordered), 3),
            "p95_s": round(ordered[min(int(len(ordered) * 0.95), len(ordered) - 1)], 3)}


def time_answers(answerer, questions: list[str]) -> dict:
    """Per question: first streamed token and whole answer (verification included), after a warm-up."""
    cold = time.perf_counter()
    answerer.answer(questions[0], on_text=lambda piece: None)
    cold_s = time.perf_counter() - cold
    firsts, totals, evaluated, generated, abstained = [], [], [], [], 0
    for question in questions:
        started = time.perf_counter()
        first: list[float] = []
        answer = answerer.answer(question, on_text=lambda piece: first or first.append(time.perf_counter()))
        totals.append(time.perf_counter() - started)
        firsts.append((first[0] if first else time.perf_counter()) - started)
        evaluated.append(answer.timings.get("tokens_evaluated", 0))
        generated.append(answer.timings.get("tokens_out", 0))
        abstained += answer.abstained
    return {"questions": len(questions), "cold_start_s": round(cold_s, 2),
            "first_token": _percentiles(firsts), "whole_answer": _percentiles(totals),
            "prompt_tokens_evaluated_mean": round(statistics.fmean(evaluated), 1),
            "tokens_generated_mean": round(statistics.fmean(generated), 1), "abstained": abstained}


def judge_cost(answerer, questions: list[str], claims: int = 12) -> dict:
    """The model's check of one claim (its best-evidence sentence, against the sources the answer read): with
    the sources' evaluated state reused, as in the answer path, and with it dropped first."""
    from rag.answer.evidence import rank_sentences
    from rag.answer.reader_prompt import sources_block

    reused, fresh = [], []
    for question in questions[:claims]:
        hits = answerer.retriever.retrieve(question)
        ranked = rank_sentences(question, hits, answerer.embedder)
        if not ranked:
            continue
        sources = answerer._sources(question, hits, ranked)  # noqa: SLF001  (what the answer reads)
        block, claim = sources_block(s.block() for s in sources), ranked[0].text
        answerer.generator.forget()
        t = time.perf_counter()
        answerer.checks.supported(block, claim, [1])
        fresh.append(time.perf_counter() - t)
        t = time.perf_counter()
        answerer.checks.supported(block, ranked[-1].text if len(ranked) > 1 else claim.upper(), [1])  # reused
        reused.append(time.perf_counter() - t)
    return {"claims": len(reused), "reused_prefix_ms": round(1000 * statistics.median(reused), 1),
            "without_reuse_ms": round(1000 * statistics.median(fresh), 1)}


def bench_answer(
    ctx: typer.Context,
    models: list[str] = typer.Option(["default", "fast"], "--model", help="Catalog names or roles (repeat)."),
    sample: Path = typer.Option(Path("data/sample"), help="Documents for the sample questions."),
    squad: Path = typer.Option(Path("../shared/data/squad/dev-v1.1.json"), help="SQuAD JSON ('' skips)."),
    questions: int = typer.Option(40, help="SQuAD questions, evenly spread."),
    decode_tokens: int = typer.Option(96, help="Tokens decoded per tokens/s measurement."),
    compare_checks: bool = typer.Option(True, help="Also time every set without the model's checks "
                                        "(RAG_ANSWER__CHECKS=false): what verification and answerability add."),
) -> None:
    """Time to first token and whole-answer p50/p95 per model on the sample corpus and SQuAD questions, and
    prompt/decode tokens/s of our generator against bare llama-cpp-python."""
    from evals.bench_generation import bench_decoders
    from evals.squad import load_squad, write_squad_as_beir
    from evals.squad_eval import spread
    from rag.answer.choice import build_answerer
    from rag.generation.model_catalog import find
    from rag.generation.model_install import installed

    app = context(ctx)
    started = time.perf_counter()
    sets = {"sample": ([sample], "bench-sample", SAMPLE_QUESTIONS * 2)}
    if str(squad) not in ("", ".") and squad.is_file():
        folder = write_squad_as_beir(squad, app.settings.data_dir / "datasets")
        picked = [q.question for q in spread(load_squad(squad).questions, questions)]
        sets["squad"] = ([folder / "corpus.jsonl"], f"beir-{folder.name}", picked)
    retrievers = {}
    for name, (paths, collection, _) in sets.items():
        app.ingest(paths, collection)
        retrievers[name] = app.retriever(collection)
    result: dict = {"benchmark": "answer", "machine": _machine(), "models": {}}
    for name in models:
        model = find(name)
        path = installed(model, app.settings.models_dir) if model else None
        if path is None:
            result["models"][name] = {"error": f"not installed (`rag models install {name}`)"}
            continue
        settings = app.settings.model_copy(update={"generator": app.settings.generator.model_copy(
            update={"model": model.name})})
        entry: dict = {"file": path.name, "sha256": model.sha256}
        for set_name, (_, _, asked) in sets.items():
            answerer = build_answerer(settings, retrievers[set_name], app.embedder)
            entry[set_name] = time_answers(answerer, asked)
            if getattr(answerer, "checks", None):
                entry[set_name]["judge_per_claim"] = judge_cost(answerer, asked)
            if compare_checks and settings.answer.checks:
                unchecked = build_answerer(settings.model_copy(update={"answer": settings.answer.model_copy(
                    update={"checks": False})}), retrievers[set_name], app.embedder, generator=answerer.generator)
                bare = time_answers(unchecked, asked)
                with_checks = entry[set_name]["whole_answer"]["p50_s"]
                entry[set_name]["without_checks"] = bare
                entry[set_name]["checks_added_share_p50"] = round(
                    with_checks / bare["whole_answer"]["p50_s"] - 1, 3)
            del answerer
        entry["tokens_per_s"] = bench_decoders(path, decode_tokens, repeats=3)
        result["models"][model.name] = entry
    print(json.dumps(result, indent=2))
    _record(app, squad if squad.is_file() else sample, result, time.perf_counter() - started, kind="bench-answer")
