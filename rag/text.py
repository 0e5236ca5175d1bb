"""Small text utilities shared by the answerer and the judge: sentences with offsets, content words, numbers."""

from __future__ import annotations

import re

# Why not spaCy/nltk here: the core must not download models, and a sentence regex that keeps character
# offsets is all the answerer needs (unstructured's parsing has its own pipeline in ingest/).
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n{2,}")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
STOPWORDS = frozenset(
    "a an and are as at be been being but by can could did do does for from had has have how i if in into is it "
    "its of on or our so such than that the their them then there these they this those to was we were what "
    "when where which while who whom why will with would you your about after also any each many more most "
    "much no not only other over same some up very".split()
)


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences in text, whitespace trimmed."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if _after_initial(text, match.start()):
            continue  # "Alfred S. Brown": an initial, not a sentence end
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e - s >= 3:
            out.append((s, e))
    return out


def _after_initial(text: str, end: int) -> bool:
    """Whether text[:end] ends in a single capital letter and a full stop, after a space or an opening mark."""
    return (end >= 2 and text[end - 1] == "." and text[end - 2].isupper()
            and (end == 2 or not text[end - 3].isalnum()) and end < len(text) and text[end].isspace())


def content_words(text: str) -> set[str]:
    return {w for w in (m.group(0).lower() for m in _WORD.finditer(text)) if w not in STOPWORDS}


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def stem(word: str) -> str:
    """A light suffix stripper so that 'lenses'/'lens' and 'receives'/'receive' meet."""
    for suffix in ("ies", "es", "s", "ing", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def coverage(claim: str, evidence: str) -> float:
    """Share of the claim's content words (lightly stemmed) that the evidence contains."""
    wanted = {stem(w) for w in content_words(claim)}
    if not wanted:
        return 1.0
    return len(wanted & {stem(w) for w in content_words(evidence)}) / len(wanted)


def embed_text(section_path: list[str] | None, text: str) -> str:
    """What is embedded for a chunk: its section path on the first line, then its text."""
    prefix = " > ".join(section_path or [])
    return f"{prefix}\n{text}" if prefix and prefix != text else text
