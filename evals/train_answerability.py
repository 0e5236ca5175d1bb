"""Fit the answerability head (`rag.answer.answerability_head`) for the active model: SQuAD 2.0 questions each
put to the answerer's own check (its retrieval, its sources, its prompt), the model's hidden state at its
verdict kept, and a logistic fitted on them, its strength and its threshold chosen by cross-validation on the
same questions only. The questions come from the half of the file that `rag eval squad --skip-trained 0.5`
leaves out of its measurement, so the head is measured on questions it never saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np

from rag.answer.answerability_head import AnswerabilityHead, prompt_fingerprint
from rag.answer.checks import ModelChecks
from rag.answer.reader_prompt import sources_block
from rag.judges.llm import logit

STRENGTHS = (0.0003, 0.001, 0.003, 0.01, 0.03)  # inverse L2 strengths tried (1,536 features, a few hundred rows)
FOLDS = 5


def collect(answerer, questions, on_question: Callable[[], None] = lambda: None) -> tuple[np.ndarray, list[dict]]:
    """Each question through the answerer's retrieval and source selection, then the answerability check with
    the hidden state kept. Questions whose evidence is too weak to read are declined unasked by the answerer,
    so they are left out here too."""
    checks = ModelChecks(answerer.generator)
    hidden, rows = [], []
    for question in questions:
        hits = answerer.retriever.retrieve(question.question)
        sources, evidence = answerer.read(question.question, hits)
        if sources:
            p_model, state = checks.verdict_state(sources_block(s.block() for s in sources), question.question)
            hidden.append(state)
            rows.append({"id": question.id, "answerable": bool(question.answerable), "p_model": p_model,
                         "evidence": evidence})
        on_question()
    return np.array(hidden, dtype=np.float64), rows


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def cross_validated(hidden: np.ndarray, labels: np.ndarray, strength: float, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    scores = np.zeros(len(labels))
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(hidden, labels):
        scores[test] = _fit(hidden[train], labels[train], strength).predict_proba(hidden[test])[:, 1]
    return scores


def _fit(hidden: np.ndarray, labels: np.ndarray, strength: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=5000)).fit(hidden, labels)


def fit_head(hidden: np.ndarray, rows: list[dict], model_sha256: str, keep: float, seed: int = 0,
             card: dict | None = None) -> AnswerabilityHead:
    """The head at the strength with the best cross-validated ROC AUC, declining below the score that keeps
    `keep` of the answerable questions (their cross-validated scores, so the threshold is not flattered by
    questions the head was fitted on)."""
    labels = np.array([r["answerable"] for r in rows], dtype=int)
    if len(set(labels)) < 2 or min(labels.sum(), len(labels) - labels.sum()) < FOLDS:
        raise ValueError(f"{len(labels)} questions with {labels.sum()} answerable: too few of each kind to fit "
                         "a head; give more questions (--limit) from a SQuAD 2.0 file.")
    tried = {c: cross_validated(hidden, labels, c, seed) for c in STRENGTHS}
    aucs = {c: _auc(labels, scores) for c, scores in tried.items()}
    strength = max(aucs, key=aucs.get)
    scores = tried[strength]
    decline_below = float(np.quantile(scores[labels == 1], 1 - keep))
    verdict = np.array([logit(r["p_model"]) for r in rows])
    model = _fit(hidden, labels, strength)
    scaler, logistic = model.named_steps["standardscaler"], model.named_steps["logisticregression"]
    report = {"questions": len(labels), "answerable": int(labels.sum()), "strength": strength,
              "cv_auc": round(aucs[strength], 4), "cv_auc_by_strength": {str(c): round(a, 4) for c, a in aucs.items()},
              "verdict_auc": round(_auc(labels, verdict), 4), "keep": keep,
              "cv_declined_unanswerable": round(float((scores[labels == 0] < decline_below).mean()), 4),
              "fitted": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seed": seed}
    return AnswerabilityHead(
        model_sha256=model_sha256, prompt_sha256=prompt_fingerprint(),
        mean=[round(float(v), 6) for v in scaler.mean_], scale=[round(float(v), 6) for v in scaler.scale_],
        weights=[round(float(v), 8) for v in logistic.coef_[0]], bias=round(float(logistic.intercept_[0]), 6),
        decline_below=round(decline_below, 4), card=(card or {}) | report)


def train_answerability(answerer, questions, keep: float, seed: int, card: dict,
                        on_question: Callable[[], None] = lambda: None) -> AnswerabilityHead:
    generator = answerer.generator
    if not hasattr(generator, "score_next_hidden") or not getattr(generator, "sha256", ""):
        raise ValueError(f"{generator.name}: a head needs a llama.cpp model with a known SHA-256 (`rag models use`)")
    started = time.perf_counter()
    hidden, rows = collect(answerer, questions, on_question)
    head = fit_head(hidden, rows, generator.sha256, keep, seed, card | {"model_file": generator.model_path.name})
    head.card["minutes"] = round((time.perf_counter() - started) / 60, 1)
    return head
