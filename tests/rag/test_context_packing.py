"""Context packing: overlapping chunks merged, sources labelled, the token budget kept (model's tokenizer)."""

from __future__ import annotations

from rag.context_packing import pack_sources
from rag.generation import LlamaCppGenerator
from rag.retrieval import Hit
from rag.settings import GeneratorSettings

DOC = ("Lighthouses guided ships for centuries. The first lamps burned wood. Later keepers used oil. "
       "Fresnel lenses changed everything in 1823. Electric lamps came after 1900. ") * 3


def hit(chunk_id, doc_id, start, end, page=None, title="Lighthouses"):
    return Hit(chunk_id, 1.0, DOC[start:end], doc_id, f"/docs/doc{doc_id}.pdf", title, page, page, [], start, end)


def words(text: str) -> int:
    return len(text.split())


def test_overlapping_chunks_of_one_document_become_one_source():
    hits = [hit(1, 1, 40, 140, page=2), hit(2, 2, 0, 60, title=None), hit(3, 1, 100, 200, page=3)]
    sources = pack_sources(hits, words, budget=1000)
    assert [s.number for s in sources] == [1, 2]
    assert sources[0].text == DOC[40:200] and [h.chunk_id for h in sources[0].hits] == [1, 3]
    assert sources[0].label == "Lighthouses, pp. 2-3 (doc1.pdf)" and sources[1].label == "doc2.pdf"


def test_sources_fit_the_budget_counted_by_the_model_tokenizer(tiny_gguf):
    generator = LlamaCppGenerator(tiny_gguf, GeneratorSettings(context_tokens=512))
    hits = [hit(i, i, 0, len(DOC)) for i in range(1, 6)]
    budget = 300
    sources = pack_sources(hits, generator.count_tokens, budget)
    used = sum(generator.count_tokens(s.block()) + 2 for s in sources)
    assert 0 < len(sources) < 5 and used <= budget
    assert sources[-1].truncated and sources[-1].text.endswith(".")  # cut at a sentence boundary
    assert all(not s.truncated for s in sources[:-1])
