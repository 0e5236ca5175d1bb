"""Answers written by a generation model and held to their sources.

Retrieve; abstain at once when the evidence is too weak (the same calibrated test as the extractive answerer);
give the model the best sentences as numbered sources under a small token budget (prompt tokens dominate on
CPU); with the model's checks on (`rag.answer.checks`), ask it first whether those sources state the answer and
decline when they do not; generate with a per-query citation grammar (or check citations afterwards when the
grammar is switched off); verify every sentence against the sources it cites (with the checks, the model's
scored verdict is weighed into the judge); ask whether the answer answers the question; then flag, strip or
abstain as the answer mode says.

The prompt is the reader prompt (`rag.answer.reader_prompt`): a short instruction and made-up worked examples, the same
for every question, so their evaluated state is kept and each question pays only for its own sources. The checks
use the same prompt with the same sources, so the sources are evaluated once per question. The model declines
with a short "I don't know." (the form these models produce reliably), which becomes the product's abstention.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rag.answer.checks import ModelChecks
from rag.answer.citation_grammar import citation_grammar, parse_cited
from rag.answer.context_packing import Source, pack_sources, select_passages
from rag.answer.contract import ABSTENTION, Answer, Citation, abstained, citations_for
from rag.answer.evidence import apply_mode, rank_sentences, verify
from rag.answer.reader_prompt import MODEL_ABSTENTION, question_task, reader_prompt, sources_block
from rag.embedder import Embedder
from rag.errors import ContextOverflowError
from rag.generation.generators import Generator, Prompt
from rag.judges.alignment import Judge
from rag.retrieval.hybrid import Filters, Retriever
from rag.settings import AnswerSettings, GeneratorSettings

SAFETY_TOKENS = 16  # tokens at the seams between prompt pieces may merge differently
INVALID_CITATIONS = "removed citations of sources that were not given: "


def build_prompt(question: str, sources: list[Source]) -> Prompt:
    return reader_prompt(sources_block(s.block() for s in sources), question_task(question))


def source_citation(source: Source) -> Citation:
    first = source.hits[0]
    scanned = [h.ocr_confidence for h in source.hits if h.ocr_confidence is not None]
    return Citation(source.number, first.chunk_id, first.source, first.title, first.page_start, source.text,
                    min(scanned) if scanned else None)


class GenerativeAnswerer:
    def __init__(self, retriever: Retriever, generator: Generator, embedder: Embedder, judge: Judge,
                 settings: AnswerSettings, generation: GeneratorSettings, max_sentences: int = 6,
                 checks: ModelChecks | None = None):
        self.retriever = retriever
        self.checks = checks  # the model's own scored checks of its sources and answers (`rag.answer.checks`)
        self.generator = generator
        self.embedder = embedder
        self.judge = judge
        self.settings = settings
        self.generation = generation
        self.max_sentences = max_sentences
        self.name = generator.name

    @property
    def description(self) -> str:
        grammar = "citations enforced by grammar" if self.generation.grammar else "citations checked after"
        return f"answerer: {self.name} ({grammar})"

    @property
    def model_info(self) -> dict:
        path = getattr(self.generator, "model_path", None)
        return {"answerer": self.name, "model_file": path.name if path else self.name,
                "model_sha256": getattr(self.generator, "sha256", "") or None}

    def answer(self, question: str, k: int | None = None, filters: Filters | None = None,
               on_text: Callable[[str], None] | None = None) -> Answer:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        hits = self.retriever.retrieve(question, k=k, filters=filters)
        timings["retrieve_s"] = time.perf_counter() - started
        sources, evidence = self.read(question, hits)
        timings["select_s"] = time.perf_counter() - started - timings["retrieve_s"]
        citations = [source_citation(s) for s in sources]
        closest = citations_for(hits)
        if not sources:
            timings["total_s"] = time.perf_counter() - started
            return abstained(question, self.name, timings, closest, evidence)
        block = sources_block(s.block() for s in sources)
        answerable = None
        if self.checks:
            t = time.perf_counter()
            answerable, _ = self.checks.answerable(block, question, evidence)
            timings["answerable_s"] = time.perf_counter() - t
            below = self.settings.answerable_below
            if answerable < (self.checks.decline_below if below is None else below):
                timings["total_s"] = time.perf_counter() - started
                return abstained(question, self.name, timings, citations, evidence, answerable=answerable,
                                 warnings=[f"declined before generating: the sources state the answer with "
                                           f"probability {answerable:.2f} (RAG_ANSWER__ANSWERABLE_BELOW)"])
        text = self._generate(question, sources, on_text, timings, started)
        parsed = parse_cited(text, {s.number for s in sources}, (MODEL_ABSTENTION, ABSTENTION))
        warnings = []
        if parsed.sentences and not text.rstrip().endswith((".", "!", "?", '"', "'", ")", "]")):
            parsed.sentences.pop()  # cut off at the token limit mid-sentence
            warnings.append("the answer reached the token limit (RAG_GENERATOR__MAX_TOKENS); its unfinished "
                            "last sentence was dropped")
        if parsed.invalid:
            warnings.append(INVALID_CITATIONS + ", ".join(f"[{n}]" for n in parsed.invalid))
        if parsed.abstained:
            timings["total_s"] = time.perf_counter() - started
            return abstained(question, self.name, timings, citations, evidence, answerable=answerable,
                             warnings=warnings)
        t = time.perf_counter()
        relevance = None
        if self.checks and parsed.sentences:  # first: its prompt shares the question's tokens with the answer's
            relevance = self.checks.relevant(block, question, " ".join(text for text, _ in parsed.sentences))
        verdict = (lambda sentence, cited: self.checks.supported(block, sentence, cited)) if self.checks else None
        checked = verify(parsed.sentences, {s.number: s.text for s in sources}, self.judge, verdict)
        timings["verify_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - started
        answer = apply_mode(question, checked, citations, self.settings, self.name, timings)
        answer.evidence_score, answer.answerable, answer.relevance = evidence, answerable, relevance
        answer.warnings = warnings + [f"sentence without a citation: {s.text!r}" for s in checked if not s.cited]
        if relevance is not None and relevance < self.settings.relevance_below:
            answer.warnings.append(f"the answer may not answer the question (probability {relevance:.2f}): "
                                   "its sentences are checked against the sources, not against the question")
            if self.settings.mode == "abstain" and not answer.abstained:
                return abstained(question, self.name, timings, citations, evidence, answerable=answerable,
                                 warnings=answer.warnings, sentences=checked, relevance=relevance)
        return answer

    def read(self, question: str, hits) -> tuple[list[Source], float]:
        """The numbered sources the model reads for these hits, and the evidence score (the best sentence's);
        no sources when the evidence is under RAG_ANSWER__MODEL_ABSTAIN_BELOW (then it abstains unasked)."""
        ranked = rank_sentences(question, hits, self.embedder)
        evidence = round(ranked[0].score, 4) if ranked else 0.0
        return (self._sources(question, hits, ranked) if evidence >= self.settings.model_abstain_below else [],
                evidence)

    def _sources(self, question: str, hits, ranked) -> list[Source]:
        """What the model reads: at most RAG_GENERATOR__SOURCE_TOKENS, and never more than the window holds."""
        empty = build_prompt(question, [])
        room = (self.generator.context_tokens - self.generation.max_tokens
                - self.generator.prompt_tokens(empty) - SAFETY_TOKENS)
        budget = min(self.generation.source_tokens, room)
        if self.generation.passages == "chunks":
            sources = pack_sources(hits, self.generator.count_tokens, budget) if hits else []
        else:
            sources = select_passages(ranked, hits, self.generator.count_tokens, budget)
        if hits and not sources:
            raise ContextOverflowError(
                f"{self.generator.name}: no source fits the context window ({self.generator.context_tokens} "
                f"tokens, {budget} left for sources). Ask a shorter question, lower RAG_GENERATOR__MAX_TOKENS "
                "or raise RAG_GENERATOR__CONTEXT_TOKENS.")
        return sources

    def _generate(self, question: str, sources: list[Source], on_text, timings: dict[str, float],
                  started: float) -> str:
        prompt = build_prompt(question, sources)
        grammar = (citation_grammar([s.number for s in sources], MODEL_ABSTENTION, self.max_sentences)
                   if self.generation.grammar else None)
        t = time.perf_counter()
        pieces = []
        for piece in self.generator.stream(prompt, grammar=grammar, max_tokens=self.generation.max_tokens):
            if not pieces:
                timings["first_token_s"] = time.perf_counter() - started  # as the asker feels it
            pieces.append(piece)
            if on_text:
                on_text(piece)
        timings["generate_s"] = time.perf_counter() - t
        text = "".join(pieces)
        timings["tokens_in"] = self.generator.prompt_tokens(prompt)
        timings["tokens_evaluated"] = getattr(self.generator, "evaluated_tokens", timings["tokens_in"])
        timings["tokens_out"] = getattr(self.generator, "generated_tokens", 0) or self.generator.count_tokens(text)
        return text
