"""Citations: the per-query grammar admits only the given source numbers, and the parser checks them after."""

from __future__ import annotations

import pytest

from rag.answer.citation_grammar import citation_grammar, parse_cited
from rag.answer.contract import ABSTENTION
from rag.generation.generators import LlamaCppGenerator, Prompt
from rag.settings import GeneratorSettings


def test_parser_keeps_valid_citations_and_reports_invalid_ones():
    parsed = parse_cited("Leave is 27 days [2][7]. Core hours are 10 to 15 [1, 3]. Nothing cites here.",
                         {1, 2, 3}, ABSTENTION)
    assert parsed.sentences == [("Leave is 27 days.", [2]), ("Core hours are 10 to 15.", [1, 3]),
                                ("Nothing cites here.", [])]
    assert parsed.invalid == [7] and not parsed.abstained


def test_citations_after_the_full_stop_belong_to_that_sentence():
    parsed = parse_cited("It opened in 1990. [2] It closed in 2001. [1]", {1, 2}, ABSTENTION)
    assert parsed.sentences == [("It opened in 1990.", [2]), ("It closed in 2001.", [1])]


@pytest.mark.parametrize("text", [ABSTENTION, "The documents don't answer this question", "  "])
def test_the_abstention_sentence_is_recognised(text):
    assert parse_cited(text, {1}, ABSTENTION).abstained


def test_grammar_names_only_the_given_numbers():
    grammar = citation_grammar([3, 1, 12], ABSTENTION)
    cite = next(line for line in grammar.splitlines() if line.startswith("cite ::="))
    assert cite == 'cite ::= "[" ("12" | "3" | "1") "]"'
    with pytest.raises(ValueError):
        citation_grammar([], ABSTENTION)


@pytest.mark.parametrize("seed", range(4))
def test_a_model_under_the_grammar_cites_only_given_sources_in_every_sentence(tiny_gguf, seed):
    """Random weights at temperature 1 try everything; the grammar still forces the format."""
    given = {2, 5}
    generator = LlamaCppGenerator(tiny_gguf, GeneratorSettings(context_tokens=2048, temperature=1.0, seed=seed + 1))
    text = "".join(generator.stream(Prompt("Cite.", "Question?"), max_tokens=1500,
                                    grammar=citation_grammar(sorted(given), ABSTENTION, max_sentences=3)))
    parsed = parse_cited(text, given, ABSTENTION)
    assert parsed.abstained or parsed.sentences
    assert parsed.invalid == []
    assert all(cited and set(cited) <= given for _, cited in parsed.sentences)
    assert text.endswith((".", "!", "?", "]"))  # a sentence ends with its citation, before or after the stop


def test_initials_do_not_end_a_sentence_and_both_citation_places_parse():
    parsed = parse_cited("Tesla met Alfred S. Brown in 1886. [1] He left in 1887 [2].", {1, 2}, ABSTENTION)
    assert parsed.sentences == [("Tesla met Alfred S. Brown in 1886.", [1]), ("He left in 1887.", [2])]


def test_a_short_i_dont_know_is_an_abstention_too():
    assert parse_cited("I don't know.", {1}, ("I don't know.", ABSTENTION)).abstained
    assert not parse_cited("I know it opens at 9. [1]", {1}, ("I don't know.", ABSTENTION)).abstained
