"""Conversations: follow-up questions made standalone before retrieval, and chat sessions kept in the store.

Without a generative model the rewrite is a heuristic: a follow-up that leans on the previous turn
(a pronoun or demonstrative such as "it", "they", "that", or a single content word of its own) gets the
previous standalone question's content words that it lacks appended in brackets. "When was it invented?"
after "Who invented the Fresnel lens?" retrieves with "When was it invented? (fresnel lens)". A question
that stands on its own is left as it is.

With a generative model the model rewrites the follow-up (`rewrite_with_model`), held by a grammar to one
question on one line; the heuristic decides first whether a rewrite is needed at all.
"""

from __future__ import annotations

import re

from rag.answer.contract import Answer
from rag.store import Store
from rag.store.tables import ChatMessage, ChatSession
from rag.text import content_words

ANAPHORA = frozenset("it its they them their theirs this that these those he him his she her hers there "
                     "then such same one ones former latter".split())
_WORD = re.compile(r"[A-Za-z']+")


def standalone_question(question: str, previous: str | None) -> str:
    """The question to retrieve with, given the previous standalone question (None for the first)."""
    if not previous:
        return question
    words = {w.lower() for w in _WORD.findall(question)}
    own = content_words(question) - ANAPHORA
    if not (words & ANAPHORA) and len(own) >= 2:
        return question
    carried = [w for w in dict.fromkeys(m.lower() for m in _WORD.findall(previous))
               if w in content_words(previous) and w not in own and w not in ANAPHORA]
    return f"{question} ({' '.join(carried)})" if carried else question


REWRITE_SYSTEM = ("Rewrite the user's follow-up question so that it can be understood without the previous "
                  "question: replace pronouns with what they refer to. Reply with the rewritten question only.")
REWRITE_GRAMMAR = 'root ::= [A-Z0-9] [^\\n?]{0,200} "?"'


def rewrite_with_model(generator, question: str, previous: str | None) -> str:
    """The follow-up made standalone by the model; the question itself when no rewrite is needed."""
    from rag.generation.generators import Prompt

    if standalone_question(question, previous) == question:
        return question
    prompt = Prompt(REWRITE_SYSTEM, f"Previous question: {previous}\nFollow-up question: {question}")
    rewritten = "".join(generator.stream(prompt, grammar=REWRITE_GRAMMAR, max_tokens=96)).strip()
    return rewritten if rewritten.endswith("?") and len(rewritten) > 3 else standalone_question(question, previous)


def start_session(store: Store, collection_id: int, title: str) -> int:
    with store.session() as session:
        return store.add_chat(session, collection_id, title)


def record_turn(store: Store, session_id: int, question: str, standalone: str, answer: Answer) -> None:
    with store.session() as session:
        store.add_turn(session, session_id, question, standalone, answer.answer, answer.to_json())


def last_standalone(store: Store, session_id: int) -> str | None:
    with store.session() as session:
        return store.last_standalone(session, session_id)


def list_sessions(store: Store, collection_id: int) -> list[ChatSession]:
    with store.session() as session:
        return store.chats(session, collection_id)


def session_messages(store: Store, session_id: int) -> list[ChatMessage]:
    with store.session() as session:
        return store.chat_messages(session, session_id)


def rename_session(store: Store, session_id: int, title: str) -> None:
    with store.session() as session:
        store.rename_chat(session, session_id, title)


def delete_session(store: Store, session_id: int) -> None:
    with store.session() as session:
        store.delete_chat(session, session_id)


def record_feedback(store: Store, message_id: int, helpful: bool, comment: str = "") -> None:
    """Thumbs up/down (and an optional comment) on an assistant message."""
    with store.session() as session:
        store.set_feedback(session, message_id, {"helpful": helpful, "comment": comment.strip()[:2000]})
