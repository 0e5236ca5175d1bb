"""Generators: a chat model that streams text for a prompt, optionally held to a GBNF grammar.

`LlamaCppGenerator` runs a GGUF file with llama-cpp-python. The chat template comes from the GGUF and is rendered
by llama-cpp-python's sandboxed Jinja formatter; a template that reaches for Python internals is refused.
The prompt is tokenized in pieces: the template's own text may contain control tokens, the system and user
texts never do, so a document that contains "<|im_start|>system" stays plain text.
`ScriptedGenerator` is the deterministic fake: it replays queued responses and records what it was asked.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

from rag.errors import ContextOverflowError, ModelError
from rag.generation.llama_sampling import generate_tokens
from rag.generation.prompt_cache import PrefixCache
from rag.settings import GeneratorSettings


@dataclass(frozen=True)
class Prompt:
    """A system message, optional worked examples (user, assistant) and the user's message. Everything before
    the user's message is the fixed prefix whose evaluated state is kept (`PrefixCache`). `context` opens the
    user's message and is tokenized on its own, so that prompts about the same sources (an answer, then checks
    of it) share those tokens exactly and llama.cpp evaluates them once."""

    system: str
    user: str
    examples: tuple[tuple[str, str], ...] = ()
    context: str = ""


class Generator(Protocol):
    name: str
    context_tokens: int

    def count_tokens(self, text: str) -> int: ...

    def prompt_tokens(self, prompt: Prompt) -> int:
        """Tokens of the prompt as the model will see it (chat template included)."""

    def stream(self, prompt: Prompt, *, grammar: str | None = None, max_tokens: int = 256,
               stop: tuple[str, ...] = ()) -> Iterator[str]:
        """Text pieces as they are generated. Raises ContextOverflowError when prompt + max_tokens do not fit."""

    def score_next(self, prompt: Prompt, choices: dict[str, tuple[str, ...]]) -> dict[str, float]:
        """The probability of each choice as the model's next token (summed over its spellings), normalised
        over the choices: a verdict that is scored, not generated, so it always parses."""


def check_fits(name: str, prompt_tokens: int, max_tokens: int, context_tokens: int) -> None:
    if prompt_tokens + max_tokens > context_tokens:
        raise ContextOverflowError(
            f"{name}: the prompt needs {prompt_tokens} tokens and the answer up to {max_tokens}, more than the "
            f"context window of {context_tokens}. Ask a shorter question, lower RAG_GENERATOR__MAX_TOKENS or "
            "raise RAG_GENERATOR__CONTEXT_TOKENS.")


def _mark(i: int) -> str:
    return f"\x00GW-{i}\x00"


class LlamaCppGenerator:
    """A GGUF model through llama-cpp-python. Loading waits for the first use."""

    def __init__(self, model_path: Path, settings: GeneratorSettings, sha256: str = "",
                 cache_dir: Path | None = None, adapter_name: str = ""):
        self.model_path = Path(model_path)
        self.settings = settings
        self.sha256 = sha256  # as checked when the model was installed or chosen (recorded by evaluation runs)
        self.cache_dir = cache_dir  # evaluated prompt prefixes kept on disk (`PrefixCache`)
        lora = adapter_name or (Path(settings.lora_path).name if settings.lora_path else "")
        self.name = f"llama.cpp:{self.model_path.name}" + (f" + LoRA {lora}" if lora else "")
        self.context_tokens = settings.context_tokens
        self.generated_tokens = 0  # tokens of the last stream (for benchmarks)
        self.evaluated_tokens = 0  # prompt tokens the last stream had to evaluate (the rest was cached)

    @cached_property
    def llm(self):
        import llama_cpp

        if not self.model_path.is_file():
            raise ModelError(f"{self.model_path}: model file not found. Install one with `rag models install`, or "
                             "choose a GGUF file with `rag models use FILE` (or RAG_GENERATOR__MODEL).")
        lora = self.settings.lora_path
        if lora and not Path(lora).is_file():
            raise ModelError(f"{lora}: LoRA adapter not found (RAG_GENERATOR__LORA_PATH).")
        try:
            llm = llama_cpp.Llama(
                model_path=str(self.model_path), n_ctx=self.settings.context_tokens,
                n_threads=self.settings.threads or max(1, os.cpu_count() or 1),
                n_gpu_layers=self.settings.gpu_layers, seed=self.settings.seed,
                lora_path=str(lora) if lora else None, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.model_path}: llama.cpp could not load this file as a GGUF model ({exc}). "
                             "Check that it is a complete GGUF download for this llama.cpp version.") from exc
        self.context_tokens = llm.n_ctx()
        return llm

    @cached_property
    def formatter(self):
        from jinja2 import TemplateError
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.settings.chat_template or self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"{self.model_path}: the GGUF has no chat template; set RAG_GENERATOR__CHAT_TEMPLATE "
                             "to the model's Jinja chat template.")
        vocab = self.llm._model  # noqa: SLF001 - the token texts the template may use
        try:
            return Jinja2ChatFormatter(template, eos_token=vocab.token_get_text(self.llm.token_eos()),
                                       bos_token=vocab.token_get_text(self.llm.token_bos()))
        except TemplateError as exc:
            raise ModelError(f"{self.model_path}: its chat template does not parse ({exc}).") from exc

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def render(self, prompt: Prompt) -> tuple[list[int], int]:
        """Token ids of the prompt, and how many of them are its fixed prefix (everything before the user's
        message). Template text may hold control tokens; the messages never do."""
        from jinja2.exceptions import SecurityError

        contents = [prompt.system] + [text for pair in prompt.examples for text in pair] + [prompt.user]
        roles = ["system"] + ["user", "assistant"] * len(prompt.examples) + ["user"]
        messages = [{"role": role, "content": _mark(i)} for i, role in enumerate(roles)]
        try:
            text = self.formatter(messages=messages).prompt
        except SecurityError as exc:
            raise ModelError(f"{self.model_path}: its chat template tries to reach Python internals ({exc}); "
                             "refused. Use a trusted GGUF or set RAG_GENERATOR__CHAT_TEMPLATE.") from exc
        pieces, rest = [], text
        for i, content in enumerate(contents):
            if rest.count(_mark(i)) != 1:
                raise ModelError(f"{self.model_path}: its chat template does not place each message once, in "
                                 "order; set RAG_GENERATOR__CHAT_TEMPLATE.")
            before, rest = rest.split(_mark(i))
            pieces += [(before, True), (content, False)]
        pieces[-1:] = [(prompt.context, False), (prompt.user, False)]
        pieces.append((rest, True))
        tokens: list[int] = []
        prefix = 0
        for number, (piece, special) in enumerate(pieces):
            if number == len(pieces) - 3:
                prefix = len(tokens)  # the user's message starts here
            if piece:
                tokens += self.llm.tokenize(piece.encode("utf-8"), add_bos=False, special=special)
        return tokens, prefix

    def prompt_tokens(self, prompt: Prompt) -> int:
        return len(self.render(prompt)[0])

    def reply_tokens(self, text: str) -> list[int]:
        """The tokens of an assistant reply as the model should write it (for training): the text, then the
        end-of-turn token the chat template closes an assistant message with."""
        import llama_cpp

        messages = [{"role": "user", "content": _mark(0)}, {"role": "assistant", "content": _mark(1)},
                    {"role": "user", "content": _mark(2)}]
        after = self.formatter(messages=messages).prompt.split(_mark(1))[-1].split(_mark(2))[0]
        vocab = self.llm._model.vocab  # noqa: SLF001
        ends = [t for t in self.llm.tokenize(after.encode("utf-8"), add_bos=False, special=True)
                if llama_cpp.llama_vocab_is_eog(vocab, t)]
        return (self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
                + [ends[0] if ends else self.llm.token_eos()])

    @cached_property
    def prefixes(self) -> PrefixCache:
        lora = Path(self.settings.lora_path) if self.settings.lora_path else None
        adapter = f"|{lora.resolve()}|{lora.stat().st_size}|{lora.stat().st_mtime_ns}" if lora else ""
        return PrefixCache(self.llm, folder=self.cache_dir, model_key=self.sha256 and self.sha256 + adapter)

    def stream(self, prompt: Prompt, *, grammar: str | None = None, max_tokens: int = 256,
               stop: tuple[str, ...] = ()) -> Iterator[str]:
        # Why not create_completion(stream=True): its incremental decoding stalls for tens of seconds on tokens
        # that end inside a UTF-8 character (measured); an incremental UTF-8 decoder does it in microseconds.
        import llama_cpp

        tokens, prefix = self.render(prompt)
        check_fits(self.name, len(tokens), max_tokens, self.context_tokens)
        llm = self.llm
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        held = StopHolder(stop)
        self.evaluated_tokens = self.prefixes.evaluate(tokens, prefix)
        generated = generate_tokens(llm, self.settings, grammar)
        self.generated_tokens, stopped = 0, False
        try:
            for count, token in enumerate(generated, 1):
                if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):  # noqa: SLF001
                    break
                self.generated_tokens = count
                piece, stopped = held.feed(decoder.decode(llm.detokenize([token])))
                if piece:
                    yield piece
                if stopped or count >= max_tokens:
                    break
        finally:
            generated.close()
        if not stopped and (rest := held.flush() + decoder.decode(b"", final=True)):
            yield rest


    def score_next(self, prompt: Prompt, choices: dict[str, tuple[str, ...]]) -> dict[str, float]:
        tokens, prefix = self.render(prompt)
        check_fits(self.name, len(tokens), 1, self.context_tokens)
        self.evaluated_tokens = self.prefixes.evaluate(tokens, prefix)
        return self._choices(self.logits(), choices)

    def score_next_hidden(self, prompt: Prompt, choices: dict[str, tuple[str, ...]]):
        """`score_next`, and the model's hidden state at the same position (its last layer, normed: what the
        output head reads), as a vector for a fitted head (`rag.answer.answerability_head`). The prompt's last
        token is evaluated on its own with llama.cpp's embeddings switched on: switched on for a whole batch,
        llama.cpp would compute the outputs of every token in it."""
        import llama_cpp
        import numpy as np

        tokens, prefix = self.render(prompt)
        check_fits(self.name, len(tokens), 1, self.context_tokens)
        self.evaluated_tokens = self.prefixes.evaluate(tokens[:-1], prefix) + 1
        ctx = self.llm._ctx.ctx  # noqa: SLF001
        llama_cpp.llama_set_embeddings(ctx, True)
        try:
            self.llm.eval(tokens[-1:])
            pointer = llama_cpp.llama_get_embeddings_ith(ctx, -1)
            hidden = np.ctypeslib.as_array(pointer, shape=(self.llm.n_embd(),)).copy()
        finally:
            llama_cpp.llama_set_embeddings(ctx, False)
        return self._choices(self.logits(), choices), hidden

    def _choices(self, logits, choices: dict[str, tuple[str, ...]]) -> dict[str, float]:
        import numpy as np

        ids = {name: sorted({self._first_token(s) for s in spellings}) for name, spellings in choices.items()}
        top = max(float(logits[i]) for group in ids.values() for i in group)
        mass = {name: float(np.exp(logits[group] - top).sum()) for name, group in ids.items()}
        total = sum(mass.values())
        return {name: value / total for name, value in mass.items()}

    def forget(self) -> None:
        """Drop what was evaluated after the fixed prefixes (their kept states are restored on the next call)."""
        self.llm.n_tokens = 0

    def logits(self):
        """The next-token logits after the last evaluated token (a copy)."""
        import llama_cpp
        import numpy as np

        pointer = llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1)  # noqa: SLF001
        return np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),)).copy()

    def _first_token(self, text: str) -> int:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)[0]


class StopHolder:
    """Holds back just enough streamed text to cut it at the first stop sequence."""

    def __init__(self, stops: tuple[str, ...]):
        self.stops = tuple(s for s in stops if s)
        self.keep = max((len(s) for s in self.stops), default=1) - 1
        self.buffer = ""

    def feed(self, text: str) -> tuple[str, bool]:
        self.buffer += text
        cuts = [i for i in (self.buffer.find(s) for s in self.stops) if i >= 0]
        if cuts:
            out, self.buffer = self.buffer[: min(cuts)], ""
            return out, True
        cut = max(len(self.buffer) - self.keep, 0)
        out, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return out, False

    def flush(self) -> str:
        out, self.buffer = self.buffer, ""
        return out


_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass
class ScriptedGenerator:
    """Replays queued responses (one per call), streamed word by word; records prompts and grammars. Scored
    verdicts (`score_next`) replay `verdicts`, the probability of the first choice; 0.5 when none is queued."""

    responses: list[str]
    context_tokens: int = 4096
    name: str = "scripted"
    prompts: list[Prompt] = field(default_factory=list)
    grammars: list[str | None] = field(default_factory=list)
    verdicts: list[float] = field(default_factory=list)

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN.findall(text))

    def prompt_tokens(self, prompt: Prompt) -> int:
        return (self.count_tokens(prompt.system) + self.count_tokens(prompt.context + prompt.user) + 8
                + sum(self.count_tokens(u + a) + 8 for u, a in prompt.examples))

    def score_next(self, prompt: Prompt, choices: dict[str, tuple[str, ...]]) -> dict[str, float]:
        check_fits(self.name, self.prompt_tokens(prompt), 1, self.context_tokens)
        self.prompts.append(prompt)
        first = self.verdicts.pop(0) if self.verdicts else 0.5
        names = list(choices)
        rest = (1 - first) / max(len(names) - 1, 1)
        return {name: first if i == 0 else rest for i, name in enumerate(names)}

    def stream(self, prompt: Prompt, *, grammar: str | None = None, max_tokens: int = 256,
               stop: tuple[str, ...] = ()) -> Iterator[str]:
        check_fits(self.name, self.prompt_tokens(prompt), max_tokens, self.context_tokens)
        self.prompts.append(prompt)
        self.grammars.append(grammar)
        text = self.responses.pop(0)
        for s in stop:
            text = text.split(s)[0] if s else text
        pieces = re.findall(r"\S+\s*|\s+", text)
        yield from pieces[:max_tokens]


SPEED_TEXT = ("The harbour office opens at half past seven on weekdays and closes at four. Ferries leave every "
              "forty minutes in summer and every hour in winter; tickets are sold on board. ")


def measure_speed(generator: LlamaCppGenerator, prompt_tokens: int = 192, decode_tokens: int = 32) -> dict:
    """Prompt and decode tokens/s of this model on this machine: a prompt evaluated from an empty cache (after
    a warm-up that pages the weights in), then a fixed number of greedy tokens."""
    import time

    llm = generator.llm
    ids = llm.tokenize((SPEED_TEXT * 40).encode("utf-8"), add_bos=False)[:prompt_tokens]
    llm.reset()
    llm.eval(ids[:16])  # warm-up
    llm.reset()
    started = time.perf_counter()
    llm.eval(ids)
    prompt_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(decode_tokens):
        llm.eval([llm.sample(temp=0.0)])
    decode_s = time.perf_counter() - started
    llm.reset()
    return {"prompt_tok_s": round(len(ids) / prompt_s, 1), "decode_tok_s": round(decode_tokens / decode_s, 1),
            "threads": llm.n_threads, "measured_at": time.strftime("%Y-%m-%d")}
