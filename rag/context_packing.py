"""Context packing: retrieved chunks become numbered sources under a token budget.

Chunks of one document whose character ranges overlap or touch are merged into one source (chunks overlap by
design), each source is labelled with its document title and page, and sources are taken in rank order while
they fit the budget, counted with the model's own tokenizer. A source that does not fit whole is cut at a
sentence boundary when a useful part of it fits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rag.retrieval import Hit
from rag.text import sentences

MIN_PARTIAL_TOKENS = 48  # a cut source shorter than this is not worth its label


@dataclass
class Source:
    number: int
    hits: list[Hit]
    text: str
    start: int
    end: int
    truncated: bool = False
    label: str = field(init=False)

    def __post_init__(self) -> None:
        first = self.hits[0]
        name = Path(first.source.split("#")[0]).name
        pages = sorted({p for h in self.hits for p in (h.page_start, h.page_end) if p})
        page = "" if not pages else f", p. {pages[0]}" if len(pages) == 1 else f", pp. {pages[0]}-{pages[-1]}"
        title = first.title or name
        self.label = f"{title}{page}" + (f" ({name})" if title != name else "")

    def block(self) -> str:
        return f"[{self.number}] {self.label}\n{self.text}"


def merge_overlapping(hits: list[Hit]) -> list[tuple[list[Hit], str, int, int]]:
    """Groups of hits (rank order kept by first member) with their merged text and character range."""
    groups: list[tuple[list[Hit], str, int, int]] = []
    for hit in hits:
        for i, (members, text, start, end) in enumerate(groups):
            if members[0].document_id == hit.document_id and hit.char_start <= end and start <= hit.char_end:
                if hit.char_start < start:
                    text, start = hit.text[: start - hit.char_start] + text, hit.char_start
                if hit.char_end > end:
                    text, end = text + hit.text[end - hit.char_start:], hit.char_end
                groups[i] = (members + [hit], text, start, end)
                break
        else:
            groups.append(([hit], hit.text, hit.char_start, hit.char_end))
    return groups


def pack_sources(hits: list[Hit], count_tokens: Callable[[str], int], budget: int) -> list[Source]:
    """Numbered sources (from 1, in rank order) whose blocks together fit `budget` tokens."""
    packed: list[Source] = []
    left = budget
    for members, text, start, end in merge_overlapping(hits):
        source = Source(len(packed) + 1, members, text, start, end)
        cost = count_tokens(source.block()) + 2  # the blank line between sources
        if cost <= left:
            packed.append(source)
            left -= cost
            continue
        cut = _cut_to_fit(source, count_tokens, left - 2)
        if cut is not None:
            packed.append(cut)
        break
    return packed


def _cut_to_fit(source: Source, count_tokens: Callable[[str], int], left: int) -> Source | None:
    if left < MIN_PARTIAL_TOKENS:
        return None
    spans = sentences(source.text)
    lo, hi = 0, len(spans)  # the most leading sentences whose block fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        candidate = Source(source.number, source.hits, source.text[: spans[mid - 1][1]], source.start,
                           source.start + spans[mid - 1][1], truncated=True)
        if count_tokens(candidate.block()) <= left:
            lo = mid
        else:
            hi = mid - 1
    if lo == 0:
        return None
    end = spans[lo - 1][1]
    cut = Source(source.number, source.hits, source.text[:end], source.start, source.start + end, truncated=True)
    return cut if count_tokens(cut.text) >= MIN_PARTIAL_TOKENS else None
