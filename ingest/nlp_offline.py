"""Keep unstructured offline: hand it a spaCy pipeline built locally instead of letting it download one.

unstructured (0.27.35, pinned) downloads `en_core_web_sm` from GitHub on the first partition call; offline
that makes every format but csv/xlsx fail and PDFs silently return nothing. It uses the model only for
sentence splitting and to ask "does this text contain a verb?" when telling narrative text from titles.
A blank English pipeline with a sentencizer and a small rule-based verb tagger answers both. When the user
has installed the real model, it is used instead.
"""

from __future__ import annotations

import re

AUXILIARY_AND_COMMON_VERBS = frozenset(
    """
    is are was were be been being am has have had having do does did done can could will would shall
    should may might must need needs get gets got make makes made take takes took give gives gave use
    uses used show shows showed find finds found see sees saw know knows knew say says said go goes went
    come comes came provide provides include includes contain contains describe describes become became
    remain remains seem seems allow allows require requires lead leads led run runs ran let lets put
    keep keeps kept begin begins began help helps mean means meant occur occurs occurred form forms
    """.split()
)
_VERB_SUFFIX = re.compile(r"^[a-z]{3,}(ed|ing|ize|izes|ise|ises|ates|ated|ify|ifies)$")


def _looks_like_verb(word: str) -> bool:
    lower = word.lower()
    return lower in AUXILIARY_AND_COMMON_VERBS or bool(_VERB_SUFFIX.match(lower))


def build_offline_pipeline():
    """spacy.blank('en') + sentencizer + a component that tags likely verbs 'VB' (everything else 'NN')."""
    import spacy
    from spacy.language import Language

    if not Language.has_factory("groundwork_verb_tagger"):

        @Language.component("groundwork_verb_tagger")
        def verb_tagger(doc):
            for token in doc:
                token.tag_ = "VB" if token.is_alpha and _looks_like_verb(token.text) else "NN"
            return doc

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("groundwork_verb_tagger")
    return nlp


def keep_unstructured_offline() -> None:
    """Install the local pipeline into unstructured unless the real model is installed."""
    import spacy.util
    from unstructured.nlp import tokenize

    if spacy.util.is_package("en_core_web_sm"):
        return
    nlp = build_offline_pipeline()
    tokenize._get_nlp = lambda: nlp  # replaces the downloading loader (see module docstring)
