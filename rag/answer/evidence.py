"""Evidence for answers: the sentences of the retrieved chunks that could answer a question, scored
(`rank_sentences`), each answer sentence verified against the sources it cites (`verify`), and the answer mode
applied to the verdicts (`apply_mode`). Shared by both answerers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rag.answer.contract import Answer, AnswerSentence, Citation, abstained
from rag.embedder import Embedder
from rag.judges.alignment import Judge
from rag.retrieval.hybrid import Hit
from rag.settings import AnswerSettings
from rag.text import content_words, coverage, sentences, stem

W_COSINE, W_COVERAGE = 0.6, 0.4  # evidence score of a sentence for a question


def verify(answer_sentences: list[tuple[str, list[int]]], sources: dict[int, str], judge: Judge,
           model_verdict: Callable[[str, list[int]], float] | None = None) -> list[AnswerSentence]:
    """Judges each sentence against the sources it cites (the best-supporting one counts). `model_verdict`,
    where given, is the generation model's P(supported) for a sentence and its cited sources, which a
    combined judge weighs in (`CombinedJudge.judge_with`)."""
    checked = []
    for text, cited in answer_sentences:
        if model_verdict is not None and hasattr(judge, "judge_with"):
            p = model_verdict(text, [n for n in cited if n in sources])
            verdicts = [judge.judge_with(text, sources[n], p) for n in cited if n in sources]
        else:
            verdicts = [judge.judge(text, sources[n]) for n in cited if n in sources]
        best = max(verdicts, key=lambda v: v.score, default=None)
        checked.append(AnswerSentence(text, cited, bool(best and best.supported), best.score if best else 0.0,
                                      best.evidence if best else ""))
    return checked


def apply_mode(question: str, checked: list[AnswerSentence], citations: list[Citation], settings: AnswerSettings,
               answerer: str, timings: dict) -> Answer:
    """flag: keep and mark; strip: drop unsupported sentences; abstain: refuse when too few are supported."""
    share = sum(s.supported for s in checked) / len(checked) if checked else 0.0
    kept = [s for s in checked if s.supported] if settings.mode == "strip" else checked
    if not kept or (settings.mode == "abstain" and share < settings.min_supported):
        return abstained(question, answerer, timings, citations, groundedness=round(share, 4), sentences=checked)
    used = sorted({n for s in kept for n in s.cited})
    text = " ".join(f"{s.text} [{']['.join(map(str, s.cited))}]" for s in kept)
    return Answer(question, text, False, round(share, 4), [c for c in citations if c.number in used], kept,
                  answerer, timings)


@dataclass
class RankedSentence:
    score: float  # evidence that this sentence answers the question (cosine and word coverage)
    text: str
    number: int  # 1-based position of its hit in the retrieved list
    start: int  # character offsets in that hit's text
    end: int
    vector: np.ndarray = field(repr=False)


def rank_sentences(question: str, hits: list[Hit], embedder: Embedder) -> list[RankedSentence]:
    """The sentences of the hits that could answer, best first. The best score is the evidence strength that
    abstention compares with `abstain_below`."""
    asked = {stem(w) for w in content_words(question)}
    pieces = [(number, s, e) for number, hit in enumerate(hits, 1) for s, e in sentences(hit.text)
              if _can_answer(hit.text[s:e], asked)]
    if not pieces:
        return []
    texts = [hits[n - 1].text[s:e] for n, s, e in pieces]
    vectors = embedder.embed([question] + texts)
    cosines = vectors[1:] @ vectors[0]
    scored = [RankedSentence(W_COSINE * float(c) + W_COVERAGE * coverage(question, text), text, n, s, e, v)
              for (n, s, e), text, c, v in zip(pieces, texts, cosines, vectors[1:])]
    return sorted(scored, key=lambda r: -r.score)


def _can_answer(sentence: str, asked: set[str]) -> bool:
    """A heading, or a sentence that only repeats the question's words, cannot answer it."""
    words = sentence.split()
    if len(words) < 4 or (len(words) < 8 and sentence.rstrip()[-1:] not in ".!?"):
        return False
    return bool({stem(w) for w in content_words(sentence)} - asked)
