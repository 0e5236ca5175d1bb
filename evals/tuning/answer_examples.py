"""Training data for the generator's LoRA, in the product's own answer format and from its own prompt.

Each question about a chunk (`evals.tuning.examples`: written by the local model, or by the heuristic below)
becomes up to two examples, each the exact prompt the answerer builds (`GenerativeAnswerer.read`: retrieval,
the selected sentences as numbered sources, the reader prompt):

- an answer: the sources retrieved for the question; when the source that holds the chunk's answer is among
  them, the target is that answer as one cited sentence ("<answer>. [n]"), or the source's sentence that holds
  it when the judge does not find the short form supported. Kept only when the judge verifies it.
- an abstention: the same question with the chunk's whole document left out of retrieval (sources on the same
  subject that do not hold the answer); the target is the model's "I don't know.". Dropped when the answer
  still appears in the sources, or when the evidence is so weak that the answerer would abstain unasked.
- with each, the answerer's own check before it generates (`rag.answer.checks`: "Do the sources state the
  answer to this question? Reply yes or no.") on the same sources: "yes" beside the answer, "no" beside the
  abstention. Without them an adapter could learn to answer while the unchanged check still declines first.

Abstentions come only with answers, one for every `ANSWERS_PER_ABSTENTION` answers (of the questions whose answer
is kept, every second one also yields its abstention when it has one). The abstention is one fixed reply, learned
from a few examples, and the model overshoots towards it: on SciFact with the 1.5B model, unpaired data
(abstentions outnumbering answers 35 to 22) taught it to decline every question (grounded-answer score 0.54 ->
0.50), and one abstention per answer still halved the answerable questions answered right (0.64 -> 0.32) while it
raised the abstention on questions without their document (0.44 -> 0.84).

Thumbs-up answers from the collection's feedback join the answers (their question, their sources as rebuilt by
today's retrieval, their cited text), when every cited sentence still verifies.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from evals.tuning.examples import Example
from rag.answer.citation_grammar import parse_cited
from rag.answer.generative import GenerativeAnswerer, build_prompt
from rag.answer.reader_prompt import MODEL_ABSTENTION, answerable_task, reader_prompt
from rag.store.tuning import ChunkText
from rag.text import content_words, embed_text, sentences

TOPIC_WORDS = 3
ANSWERS_PER_ABSTENTION = 2  # the module's docstring says why
_WORD = re.compile(r"[A-Za-z][A-Za-z\-]+")


@dataclass(frozen=True)
class AnswerExample:
    question: str
    kind: str  # answer | abstain | feedback | answerable | unanswerable (the check's yes or no)
    chunk_id: int  # the chunk the question was written for (0 for feedback)
    document_id: int
    sources: str  # the numbered sources the model read
    target: str  # what it is trained to reply
    prompt_tokens: list[int]
    target_tokens: list[int]  # the reply and the end-of-turn token
    prefix: int  # prompt tokens before the user's message (the same for every example)

    def to_json(self) -> dict:
        return asdict(self)


class HeuristicAnswerQuestions:
    """Questions without a model: a sentence of the chunk is the answer, and the question asks what the text
    says about that sentence's longest content words ("What does the text say about leave, employees and
    holidays?"). Plain, but every one is answered by its chunk, and the answer is a sentence to copy and cite."""

    name = "heuristic (a sentence and its key words)"

    def example(self, chunk: ChunkText, rng: random.Random) -> Example | None:
        picks = []
        for start, end in sentences(chunk.text):
            sentence = chunk.text[start:end].strip()
            words = list(dict.fromkeys(w.lower() for w in _WORD.findall(sentence)
                                       if w.lower() in content_words(sentence)))
            if 6 <= len(sentence.split()) <= 40 and len(words) >= TOPIC_WORDS:
                picks.append((sentence, words))
        if not picks:
            return None
        sentence, words = rng.choice(picks)
        topic = sorted(sorted(words, key=len, reverse=True)[:TOPIC_WORDS], key=words.index)
        question = f"What does the text say about {', '.join(topic[:-1])} and {topic[-1]}?"
        return Example(question, embed_text(chunk.section_path, chunk.text), chunk.chunk_id, chunk.document_id,
                       answer=sentence)


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _as_sentence(text: str) -> str:
    text = text.strip().rstrip(",;:")
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


class AnswerExamples:
    """Turns questions into prompt/target examples with the answerer's own retrieval and prompt."""

    def __init__(self, answerer: GenerativeAnswerer, judge):
        self.answerer = answerer
        self.judge = judge
        self.generator = answerer.generator

    def make(self, questions: Iterable[Example], feedback: Iterable[tuple[str, str]] = (),
             progress: Callable[[int], None] | None = None) -> list[AnswerExample]:
        made, answers = [], 0
        for question in questions:
            answer = self.answer(question)
            if answer is not None:
                abstention = self.abstention(question) if answers % ANSWERS_PER_ABSTENTION == 0 else None
                if abstention is not None:
                    made += [abstention, self.check(abstention, "no")]
                made += [answer, self.check(answer, "yes")]
                answers += 1
            if progress is not None:
                progress(1)
        made += [e for e in (self.liked(q, a) for q, a in feedback) if e is not None]
        return made

    def answer(self, question: Example) -> AnswerExample | None:
        hits = self.answerer.retriever.retrieve(question.question)
        sources, _ = self.answerer.read(question.question, hits)
        wanted = _norm(question.answer)
        holding = [s for s in sources if wanted and wanted in _norm(s.text)
                   and question.chunk_id in {h.chunk_id for h in s.hits}]
        if not holding:
            return None
        source = holding[0]
        spans = [source.text[a:b] for a, b in sentences(source.text) if wanted in _norm(source.text[a:b])]
        for claim in [_as_sentence(question.answer)] + spans[:1]:
            if self.judge.judge(claim, source.text).supported:
                return self._example(question, "answer", sources, f"{_as_sentence(claim)} [{source.number}]")
        return None

    def abstention(self, question: Example) -> AnswerExample | None:
        retriever = self.answerer.retriever
        hits = [h for h in retriever.retrieve(question.question, k=2 * _k(retriever))
                if h.document_id != question.document_id][:_k(retriever)]
        sources, _ = self.answerer.read(question.question, hits)
        wanted = _norm(question.answer)
        if not sources or any(wanted in _norm(s.text) for s in sources):
            return None
        return self._example(question, "abstain", sources, MODEL_ABSTENTION)

    def liked(self, question: str, answer: str) -> AnswerExample | None:
        """A thumbs-up answer, kept when each of its sentences cites a source of today's retrieval that
        verifies it (the sources it was given then may have changed since)."""
        hits = self.answerer.retriever.retrieve(question)
        sources, _ = self.answerer.read(question, hits)
        texts = {s.number: s.text for s in sources}
        parsed = parse_cited(answer, set(texts), (MODEL_ABSTENTION,))
        if not parsed.sentences or parsed.invalid or parsed.abstained:
            return None
        for text, cited in parsed.sentences:
            if not cited or not any(self.judge.judge(text, texts[n]).supported for n in cited):
                return None
        return self._example(Example(question, "", 0, 0), "feedback", sources, answer.strip())

    def check(self, example: AnswerExample, verdict: str) -> AnswerExample:
        """The answerability check on the example's sources, with the verdict it should give."""
        prompt = reader_prompt(example.sources, answerable_task(example.question))
        tokens, prefix = self.generator.render(prompt)
        return AnswerExample(example.question, "answerable" if verdict == "yes" else "unanswerable",
                             example.chunk_id, example.document_id, example.sources, verdict, tokens,
                             self.generator.reply_tokens(verdict), prefix)

    def _example(self, question: Example, kind: str, sources, target: str) -> AnswerExample:
        prompt = build_prompt(question.question, sources)
        tokens, prefix = self.generator.render(prompt)
        return AnswerExample(question.question, kind, question.chunk_id, question.document_id, prompt.context,
                             target, tokens, self.generator.reply_tokens(target), prefix)


def _k(retriever) -> int:
    return getattr(getattr(retriever, "settings", None), "k", 8)
