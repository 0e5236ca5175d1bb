"""Chunks are exact slices of the document text, follow the structure and respect the token budget."""

from ingest.chunking import Chunker
from rag.embedder import FakeEmbedder

count = FakeEmbedder().count_tokens


def _elements():
    return [
        {"text": "Handbook", "category": "Title", "depth": 0, "page": 1},
        {"text": "Intro paragraph about the company.", "category": "NarrativeText", "page": 1},
        {"text": "Leave", "category": "Title", "depth": 1, "page": 2},
        {"text": "Employees get 27 days of leave.", "category": "NarrativeText", "page": 2},
        {"text": "Item | Limit\nHotel | 160", "category": "Table", "page": 2},
        {"text": "Expenses", "category": "Title", "depth": 1, "page": 3},
        {"text": " ".join(f"word{i}." for i in range(200)), "category": "NarrativeText", "page": 3},
    ]


def test_offsets_are_exact_and_sections_follow_titles():
    doc = Chunker(count, chunk_tokens=60, overlap=10).chunk(_elements())
    for chunk in doc.chunks:
        assert doc.text[chunk.char_start:chunk.char_end] == chunk.text
    leave = next(c for c in doc.chunks if "27 days" in c.text)
    assert leave.section_path == ["Handbook", "Leave"]
    assert "Hotel | 160" in leave.text  # the table stays whole, with its section
    assert leave.page_start == leave.page_end == 2
    assert doc.title == "Handbook" and doc.page_count == 3
    assert [c.ordinal for c in doc.chunks] == list(range(len(doc.chunks)))


def test_long_passages_are_split_within_the_budget_with_overlap():
    doc = Chunker(count, chunk_tokens=60, overlap=10).chunk(_elements())
    pieces = [c for c in doc.chunks if c.section_path == ["Handbook", "Expenses"] and "word" in c.text]
    assert len(pieces) >= 6
    assert all(count(p.text) <= 60 for p in pieces)
    assert pieces[1].char_start < pieces[0].char_end  # overlapping windows
    assert pieces[-1].text.endswith("word199.")


def test_embedded_text_carries_the_section_path_and_the_hash_is_content_based():
    chunker = Chunker(count, chunk_tokens=60, overlap=10)
    first, second = chunker.chunk(_elements()), chunker.chunk(_elements())
    leave = next(c for c in first.chunks if "27 days" in c.text)
    assert leave.embed_text.startswith("Handbook > Leave\n")
    assert [c.content_hash for c in first.chunks] == [c.content_hash for c in second.chunks]
    assert len({c.content_hash for c in first.chunks}) == len(first.chunks)


def test_a_heading_is_never_a_chunk_of_its_own():
    """A title-only chunk matches its topic and holds no answer; it opens the next passage's first chunk."""
    long_passage = " ".join(f"word{i}." for i in range(100))
    for after in (long_passage, "A short passage. " * 14):
        doc = Chunker(count, chunk_tokens=60, overlap=10).chunk(
            [{"text": "Immune system", "category": "Title", "depth": 0},
             {"text": "Intro.", "category": "NarrativeText"},
             {"text": "Cells", "category": "Title", "depth": 1},
             {"text": after, "category": "NarrativeText"}])
        assert all(c.text not in ("Immune system", "Cells") for c in doc.chunks)
        opening = next(c for c in doc.chunks if c.text.startswith("Cells"))
        assert "word0." in opening.text or "short passage" in opening.text
        assert all(count(c.text) <= 60 for c in doc.chunks)
        assert all(doc.text[c.char_start:c.char_end] == c.text for c in doc.chunks)


def test_a_heading_followed_by_a_subheading_is_not_a_chunk_of_its_own():
    doc = Chunker(count, chunk_tokens=60, overlap=10).chunk([
        {"text": "Attachment: memo.docx", "category": "Title", "depth": 0},
        {"text": "Ferry memo", "category": "Title", "depth": 1},
        {"text": "The ferry carried 9,300 passengers.", "category": "NarrativeText"},
    ])
    [chunk] = doc.chunks
    assert chunk.text.startswith("Attachment: memo.docx") and "9,300 passengers" in chunk.text
