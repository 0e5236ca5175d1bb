"""Citations in generated answers: a per-query GBNF grammar that enforces them, and a parser that checks them.

The answer format is sentences that each end with bracketed source numbers, after the final punctuation (the
form the models write most readily: "Leave is 25 days. [2] It is paid. [2][3]") or before it ("... days [2].").
The grammar admits only the numbers of the sources actually given and no sentence without a citation; its only
other output is the abstention reply. Without the grammar the parser does the same after the fact: numbers
that were not given are removed and reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from rag.text import sentences

SENTENCE_CHARS = 400  # longest sentence the grammar admits, in characters
CITES_PER_SENTENCE = 3


def citation_grammar(numbers: list[int], abstention: str, max_sentences: int = 6) -> str:
    """GBNF: the abstention sentence, or 1..max_sentences sentences each citing only `numbers`."""
    if not numbers:
        raise ValueError("a citation grammar needs at least one source number")
    ids = " | ".join(json.dumps(str(n)) for n in sorted(set(numbers), key=lambda n: -n))
    # A sentence starts with a capital or a digit and may not contain brackets, control characters (newlines)
    # or sentence-final punctuation followed by a space, except after an initial ("Alfred S. Brown"): so every
    # sentence ends with its own citations ("3.5" and "U.S" stay possible).
    cites = f"cite{{1,{CITES_PER_SENTENCE}}}"
    return "\n".join([
        f"root ::= {json.dumps(abstention)} | sentence (\" \" sentence){{0,{max_sentences - 1}}}",
        f"sentence ::= [A-Z0-9\"'(] char{{0,{SENTENCE_CHARS}}} (\" \" {cites} [.!?] | [.!?] \" \" {cites})",
        "char ::= [^\\[\\]\\x00-\\x1f.!?] | [.!?] [^\\[\\]\\x00-\\x1f .!?] | \" \" [A-Z] \". \"",
        f"cite ::= \"[\" ({ids}) \"]\"",
    ])


_MARK = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_TRAILING_MARKS = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)")


@dataclass
class ParsedAnswer:
    sentences: list[tuple[str, list[int]]] = field(default_factory=list)  # (text, cited source numbers)
    invalid: list[int] = field(default_factory=list)  # cited numbers that were not given (removed)
    abstained: bool = False


def parse_cited(text: str, valid: set[int], abstention: str | tuple[str, ...]) -> ParsedAnswer:
    """Sentences with their citations; numbers outside `valid` are dropped and listed in `invalid`. A reply that
    starts with (one of) the abstention sentence(s) is an abstention."""
    text = " ".join(text.split())
    phrases = (abstention,) if isinstance(abstention, str) else abstention
    if not text or text.startswith(tuple(p.rstrip(".") for p in phrases)):
        return ParsedAnswer(abstained=True)
    text = _TRAILING_MARKS.sub(r"\2\1", text)  # "... 1990. [2]" -> "... 1990 [2]."
    parsed = ParsedAnswer()
    for start, end in sentences(text):
        piece = text[start:end]
        cited: list[int] = []
        for mark in _MARK.finditer(piece):
            for number in map(int, re.split(r"\s*[,;]\s*", mark.group(1))):
                if number in valid:
                    cited.append(number) if number not in cited else None
                elif number not in parsed.invalid:
                    parsed.invalid.append(number)
        clean = " ".join(_MARK.sub("", piece).split())
        clean = re.sub(r"\s+([.!?,;:])", r"\1", clean)
        if any(c.isalnum() for c in clean):
            parsed.sentences.append((clean, cited))
    return parsed
