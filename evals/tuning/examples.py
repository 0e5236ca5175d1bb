"""Training data for tuning, made from the collection itself: a question for each sampled chunk, a hard
negative for it from lexical search, and a seeded split by document that keeps a held-out part the training
never sees.

Questions are written by the local model where one is installed (`ModelQuestions`: a question and its answer
quoted from the chunk, kept only when the judge finds that answer in the chunk). Otherwise (`HeuristicQuestions`)
the inverse cloze task (Lee et al., 2019, "Latent Retrieval for Weakly Supervised Open Domain QA"): one sentence
of the chunk is the question and the chunk without that sentence its passage, kept only when at least
`MIN_SHARED` of the sentence's content words recur in the rest, so the passage is still about what it says.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Protocol

from rag.store import Store
from rag.store.tuning import ChunkText
from rag.text import content_words, embed_text, sentences

MIN_SHARED = 2
MIN_QUESTION_WORDS = 6
MIN_PASSAGE_WORDS = 25


@dataclass(frozen=True)
class Example:
    question: str
    passage: str  # what the question is asked of: the chunk as embedded (less the question, for the cloze task)
    chunk_id: int
    document_id: int
    negative: str = ""  # a passage of another document that lexical search ranks high for the question
    answer: str = ""

    def to_json(self) -> dict:
        return asdict(self)


class QuestionWriter(Protocol):
    name: str

    def example(self, chunk: ChunkText, rng: random.Random) -> Example | None:
        """A question about the chunk and the passage it is asked of, or None when the chunk yields none."""


class HeuristicQuestions:
    name = "heuristic (inverse cloze task)"

    def example(self, chunk: ChunkText, rng: random.Random) -> Example | None:
        spans = sentences(chunk.text)
        candidates = []
        for start, end in spans:
            sentence = chunk.text[start:end]
            rest = (chunk.text[:start] + " " + chunk.text[end:]).strip()
            if (len(sentence.split()) >= MIN_QUESTION_WORDS and len(rest.split()) >= MIN_PASSAGE_WORDS
                    and len(content_words(sentence) & content_words(rest)) >= MIN_SHARED):
                candidates.append((sentence, rest))
        if not candidates:
            return None
        sentence, rest = rng.choice(candidates)
        return Example(sentence, embed_text(chunk.section_path, rest), chunk.chunk_id, chunk.document_id)


QUESTION_SYSTEM = ("You write exam questions about a passage. Reply in exactly two lines:\n"
                   "Question: <one question a reader could answer from the passage alone, without copying it>\n"
                   "Answer: <the answer, copied word for word from the passage>")
_REPLY = re.compile(r"Question:\s*(?P<q>.+?\?)\s*\n\s*Answer:\s*(?P<a>.+)", re.S)


class ModelQuestions:
    """Questions written by the local generation model, kept when `judge` finds the answer in the chunk."""

    def __init__(self, generator, judge, max_passage_tokens: int = 320):
        self.generator = generator
        self.judge = judge
        self.name = f"written by {generator.name}"
        self.max_passage_tokens = max_passage_tokens

    def example(self, chunk: ChunkText, rng: random.Random) -> Example | None:
        from rag.generation.generators import Prompt

        passage = embed_text(chunk.section_path, chunk.text)
        if self.generator.count_tokens(passage) > self.max_passage_tokens:
            return None
        reply = "".join(self.generator.stream(Prompt(QUESTION_SYSTEM, f"Passage:\n{chunk.text}"), max_tokens=80))
        match = _REPLY.search(reply)
        if match is None:
            return None
        question, answer = (" ".join(match.group(g).split()) for g in ("q", "a"))
        answer = answer.splitlines()[0].strip() if answer else ""
        if not answer or len(question.split()) < 4 or not self.judge.judge(answer, chunk.text).supported:
            return None
        return Example(question, passage, chunk.chunk_id, chunk.document_id, answer=answer)


@dataclass
class Split:
    train: list[Example]
    held_out: list[Example]
    questions: str  # which writer made them
    chunks_sampled: int


def held_out_document(document_id: int, seed: int, share: float) -> bool:
    """The split is by document, from a hash of (seed, document): stable whatever else the collection holds."""
    digest = hashlib.sha256(f"{seed}:{document_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def sample_chunks(store: Store, collection_id: int, count: int, seed: int) -> list[ChunkText]:
    with store.session() as session:
        ids = store.chunk_ids(session, collection_id)
        chosen = random.Random(seed).sample(ids, min(count, len(ids)))
        return store.chunk_texts_by_id(session, chosen)


def make_examples(store: Store, collection_id: int, writer: QuestionWriter, *, count: int, seed: int,
                  held_out_share: float, lexical: Callable[[str, int], list[tuple[int, float]]] | None,
                  progress: Callable[[int], None] | None = None) -> Split:
    """`count` chunks sampled (seeded), a question for each that yields one, a hard negative for the training
    part (`lexical(question, k)` -> [(chunk id, score)]), and the split."""
    rng = random.Random(seed)
    chunks = sample_chunks(store, collection_id, count, seed)
    train, held = [], []
    for chunk in chunks:
        example = writer.example(chunk, rng)
        if progress is not None:
            progress(1)
        if example is None:
            continue
        (held if held_out_document(chunk.document_id, seed, held_out_share) else train).append(example)
    if lexical is not None:
        train = list(_with_negatives(store, train, lexical, rng))
    return Split(train, held, writer.name, len(chunks))


def _with_negatives(store: Store, examples: list[Example], lexical, rng: random.Random) -> Iterable[Example]:
    """Each example with a passage of another document that ranks 2nd-10th lexically for its question (the
    very top is skipped: it is the likeliest to be a relevant passage the corpus does not mark as such)."""
    for example in examples:
        hits = [chunk_id for chunk_id, _ in lexical(example.question, 12)]
        with store.session() as session:
            texts = store.chunk_texts_by_id(session, hits[1:])
        others = [c for c in texts if c.document_id != example.document_id]
        if not others:
            yield example
            continue
        negative = rng.choice(others[:5])
        yield Example(example.question, example.passage, example.chunk_id, example.document_id,
                      embed_text(negative.section_path, negative.text), example.answer)
