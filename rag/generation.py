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
from rag.llama_sampling import generate_tokens
from rag.settings import GeneratorSettings


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str


class Generator(Protocol):
    name: str
    context_tokens: int

    def count_tokens(self, text: str) -> int: ...

    def prompt_tokens(self, prompt: Prompt) -> int:
        """Tokens of the prompt as the model will see it (chat template included)."""

    def stream(self, prompt: Prompt, *, grammar: str | None = None, max_tokens: int = 256,
               stop: tuple[str, ...] = ()) -> Iterator[str]:
        """Text pieces as they are generated. Raises ContextOverflowError when prompt + max_tokens do not fit."""


def check_fits(name: str, prompt_tokens: int, max_tokens: int, context_tokens: int) -> None:
    if prompt_tokens + max_tokens > context_tokens:
        raise ContextOverflowError(
            f"{name}: the prompt needs {prompt_tokens} tokens and the answer up to {max_tokens}, more than the "
            f"context window of {context_tokens}. Ask a shorter question, lower RAG_GENERATOR__MAX_TOKENS or "
            "raise RAG_GENERATOR__CONTEXT_TOKENS.")


_SYSTEM_MARK, _USER_MARK = "\x00GW-SYSTEM\x00", "\x00GW-USER\x00"


class LlamaCppGenerator:
    """A GGUF model through llama-cpp-python. Loading waits for the first use."""

    def __init__(self, model_path: Path, settings: GeneratorSettings):
        self.model_path = Path(model_path)
        self.settings = settings
        self.name = f"llama.cpp:{self.model_path.name}"
        self.context_tokens = settings.context_tokens
        self.generated_tokens = 0  # tokens of the last stream (for benchmarks)

    @cached_property
    def llm(self):
        import llama_cpp

        if not self.model_path.is_file():
            raise ModelError(f"{self.model_path}: model file not found. Set RAG_GENERATOR__MODEL_PATH to a GGUF "
                             "file, or run `rag models pull` on a machine that can reach a model hub.")
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

    def render(self, prompt: Prompt) -> list[int]:
        """Token ids of the prompt: template text may hold control tokens, the contents never do."""
        from jinja2.exceptions import SecurityError

        messages = [{"role": "system", "content": _SYSTEM_MARK}, {"role": "user", "content": _USER_MARK}]
        try:
            text = self.formatter(messages=messages).prompt
        except SecurityError as exc:
            raise ModelError(f"{self.model_path}: its chat template tries to reach Python internals ({exc}); "
                             "refused. Use a trusted GGUF or set RAG_GENERATOR__CHAT_TEMPLATE.") from exc
        if text.count(_SYSTEM_MARK) != 1 or text.count(_USER_MARK) != 1:
            raise ModelError(f"{self.model_path}: its chat template does not place the system and user messages "
                             "once each; set RAG_GENERATOR__CHAT_TEMPLATE.")
        before, rest = text.split(_SYSTEM_MARK)
        middle, after = rest.split(_USER_MARK)
        tokens: list[int] = []
        for piece, special in ((before, True), (prompt.system, False), (middle, True), (prompt.user, False),
                               (after, True)):
            if piece:
                tokens += self.llm.tokenize(piece.encode("utf-8"), add_bos=False, special=special)
        return tokens

    def prompt_tokens(self, prompt: Prompt) -> int:
        return len(self.render(prompt))

    def stream(self, prompt: Prompt, *, grammar: str | None = None, max_tokens: int = 256,
               stop: tuple[str, ...] = ()) -> Iterator[str]:
        # Why not create_completion(stream=True): its incremental decoding stalls for tens of seconds on tokens
        # that end inside a UTF-8 character (measured); an incremental UTF-8 decoder does it in microseconds.
        import llama_cpp

        tokens = self.render(prompt)
        check_fits(self.name, len(tokens), max_tokens, self.context_tokens)
        llm = self.llm
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        held = StopHolder(stop)
        generated = generate_tokens(llm, tokens, self.settings, grammar)
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
    """Replays queued responses (one per call), streamed word by word; records prompts and grammars."""

    responses: list[str]
    context_tokens: int = 4096
    name: str = "scripted"
    prompts: list[Prompt] = field(default_factory=list)
    grammars: list[str | None] = field(default_factory=list)

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN.findall(text))

    def prompt_tokens(self, prompt: Prompt) -> int:
        return self.count_tokens(prompt.system) + self.count_tokens(prompt.user) + 8

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
