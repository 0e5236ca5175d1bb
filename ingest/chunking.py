"""Structure-aware chunking with a token budget measured by the embedding model's own tokenizer.

Elements (from unstructured, or a JSONL row) are joined into the document text; a title starts a new chunk
and extends the section path; consecutive elements share a chunk while they fit the budget; tables stay
whole when they fit; a passage over the budget is split by langchain-text-splitters' recursive splitter.
Every chunk is an exact slice of the document text (char offsets), with its pages and section path.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.text import embed_text

SEPARATOR = "\n\n"


@dataclass
class ChunkSpec:
    ordinal: int
    text: str
    char_start: int
    char_end: int
    token_count: int
    section_path: list[str]
    page_start: int | None
    page_end: int | None
    embed_text: str = ""
    content_hash: str = ""
    ocr_confidence: float | None = None  # the lowest of its OCR'd elements' confidences; None: no OCR'd text


@dataclass
class ChunkedDocument:
    text: str
    chunks: list[ChunkSpec]
    title: str | None
    page_stats: dict[str, dict[str, int]] = field(default_factory=dict)
    page_count: int | None = None


class Chunker:
    def __init__(self, count_tokens: Callable[[str], int], chunk_tokens: int, overlap: int):
        self.count_tokens = count_tokens
        self.budget = chunk_tokens
        self.overlap = overlap
        self.splitter = self.splitter_for(chunk_tokens)

    def splitter_for(self, size: int) -> RecursiveCharacterTextSplitter:
        return RecursiveCharacterTextSplitter(
            chunk_size=size,
            chunk_overlap=min(self.overlap, size // 2),
            length_function=self.count_tokens,
            # Paragraphs, lines, then sentences and clauses before words: pieces end at natural breaks.
            separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
            keep_separator="end",
        )

    def chunk(self, elements: list[dict]) -> ChunkedDocument:
        """elements: [{text, category, page?, depth?}] in reading order."""
        offsets, parts, position = [], [], 0
        for element in elements:
            offsets.append(position)
            parts.append(element["text"])
            position += len(element["text"]) + len(SEPARATOR)
        text = SEPARATOR.join(parts)
        state = _Packer(self, text)
        path: list[str] = []
        for element, start in zip(elements, offsets):
            if element.get("category") == "Title":
                depth = max(0, int(element.get("depth") or 0))
                path = path[:depth] + [element["text"][:200]]
                if not state.only_titles():  # a heading followed at once by a subheading is no chunk alone
                    state.flush()
            state.add(element, start, list(path))
        state.flush()
        scanned = [(start, start + len(e["text"]), e["ocr"]) for e, start in zip(elements, offsets)
                   if e.get("ocr") is not None]  # in text order, not overlapping: starts and ends both sorted
        starts, ends = [s for s, _, _ in scanned], [e for _, e, _ in scanned]
        for chunk in state.chunks:
            found = scanned[bisect.bisect_right(ends, chunk.char_start):bisect.bisect_left(starts, chunk.char_end)]
            chunk.ocr_confidence = min(ocr for _, _, ocr in found) if found else None
            chunk.embed_text = embed_text(chunk.section_path, chunk.text)
            chunk.content_hash = hashlib.sha256(chunk.embed_text.encode("utf-8")).hexdigest()
        title = next((e["text"][:300] for e in elements if e.get("category") == "Title"), None)
        return ChunkedDocument(text, state.chunks, title, *_page_stats(elements))


class _Packer:
    """Accumulates consecutive elements into chunks under the token budget."""

    def __init__(self, chunker: Chunker, text: str):
        self.chunker = chunker
        self.text = text
        self.chunks: list[ChunkSpec] = []
        self.open: list[tuple[dict, int, int]] = []  # (element, start, tokens)
        self.tokens = 0
        self.path: list[str] = []

    def add(self, element: dict, start: int, path: list[str]) -> None:
        tokens = self.chunker.count_tokens(element["text"])
        end = start + len(element["text"])
        over = self.open and self.tokens + tokens > self.chunker.budget
        heading = self.tokens if self.open and self.only_titles() else 0
        if (tokens > self.chunker.budget or over) and 0 < heading <= self.chunker.budget // 4:
            # A heading is never a chunk of its own (it would match its topic and hold no answer): the passage
            # after it is split into pieces that leave room for it, and it opens the first of them.
            first = self.open[0][1]
            self.open, self.tokens = [], 0
            self._split(start, end, path, element.get("page"), heading_start=first, room=heading + 2)
            return
        if tokens > self.chunker.budget:
            self.flush()
            self._split(start, end, path, element.get("page"))
            return
        if over:
            self.flush()
        if not self.open:
            self.path = path
        self.open.append((element, start, tokens))
        self.tokens += tokens

    def flush(self) -> None:
        if not self.open:
            return
        first, start, _ = self.open[0]
        last, last_start, _ = self.open[-1]
        end = last_start + len(last["text"])
        pages = [e.get("page") for e, _, _ in self.open if e.get("page") is not None]
        self._emit(start, end, self.tokens, self.path, pages)
        self.open, self.tokens = [], 0

    def only_titles(self) -> bool:
        return all(e.get("category") == "Title" for e, _, _ in self.open)

    def _split(self, start: int, end: int, path: list[str], page: int | None, heading_start: int | None = None,
               room: int = 0) -> None:
        text, cursor = self.text[start:end], 0
        splitter = self.chunker.splitter_for(self.chunker.budget - room) if room else self.chunker.splitter
        for number, piece in enumerate(splitter.split_text(text)):
            # Pieces come in order and each starts after the previous one's start. (The splitter's own
            # add_start_index guesses with the overlap in characters, which is wrong for a token overlap.)
            found = text.find(piece, cursor)
            position = found if found >= 0 else text.find(piece)
            cursor = position + 1
            offset = start + position
            begin = heading_start if number == 0 and heading_start is not None else offset
            self._emit(begin, offset + len(piece), self.chunker.count_tokens(self.text[begin:offset + len(piece)]),
                       path, [page] if page is not None else [])

    def _emit(self, start: int, end: int, tokens: int, path: list[str], pages: list[int]) -> None:
        self.chunks.append(
            ChunkSpec(
                ordinal=len(self.chunks),
                text=self.text[start:end],
                char_start=start,
                char_end=end,
                token_count=tokens,
                section_path=path,
                page_start=min(pages) if pages else None,
                page_end=max(pages) if pages else None,
            )
        )


def _page_stats(elements: list[dict]) -> tuple[dict[str, dict[str, int]], int | None]:
    stats: dict[str, dict[str, int]] = {}
    for element in elements:
        page = element.get("page")
        if page is None:
            continue
        entry = stats.setdefault(str(page), {"chars": 0, "elements": 0})
        entry["chars"] += len(element["text"])
        entry["elements"] += 1
        if element.get("ocr") is not None:
            entry["ocr_confidence"] = element["ocr"]  # the page's mean word confidence, on each of its elements
    return stats, (max(int(p) for p in stats) if stats else None)
