"""Sentences in documents that speak to the answering model rather than to a reader ("ignore your instructions",
"start your reply with ...", chat-template markup). They are left out of what the model reads.

One layer of several: the system prompt says the sources are data, a worked example shows an order in a source
being ignored, the citation grammar fixes the answer's form, control tokens in documents stay text, and every
answer sentence is verified against its sources. Measured with the 1.5B model on 22 documents that each hide an
order (tests/rag/test_prompt_injection.py), those layers alone let 3 orders through ("reply only with the word
X", "start your reply with X", "translate your answer"): a small model follows a plain imperative that sits next
to the fact it reads. The patterns are about the reply, the instructions or the assistant, so that ordinary
imperatives ("Book travel through the travel desk") stay. The last group (anything addressed to "AI",
"language models", "automated readers"...) was added after a second set of 10 differently worded orders, of
which the first patterns caught 2 and the model obeyed 2 (a lemon canary, "begin every answer with ..."); a
third set, written afterwards and never tuned on, is the honest measure (README).
"""

from __future__ import annotations

import re

_PATTERNS = [
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instructions?|prompts?|rules|question|directions|"
    r"guidelines|sources?)\b",
    r"\b(system|developer)\s+(prompt|message|instructions?|override|note)\b",
    r"\byour\s+(instructions|prompt|rules|guidelines)\b",
    r"\b(reply|respond|answer)\b.{0,25}\b(only|solely|exclusively|nothing but)\b",
    r"\b(reply|respond|answer)\s+(with|in|using)\s+(the\s+(word|phrase|text|sentence)|only)\b",
    r"\b(start|begin|end|prefix|finish|append|add|include|format|translate|rewrite|write)\b.{0,30}"
    r"\byour\s+(whole\s+|entire\s+)?(reply|answer|response|output)\b",
    r"\byour\s+(reply|answer|response|output)\s+(must|should|has to|needs to)\b",
    r"\b(you|the\s+(assistant|model|ai|chatbot))\s+(must|should|are\s+required\s+to|have\s+to)\s+"
    r"(now\s+)?(say|reply|respond|answer|output|print|write|start|begin|refuse|tell)\b",
    r"\byou\s+are\s+now\b",
    r"\b(assistant|chatbot|language\s+model|the\s+ai)\b\s*:",
    r"<\|im_(start|end)\|>|\[/?INST\]|<</?SYS>>|<\|(system|user|assistant|endoftext|eot_id)\|>",
    r"\bprint\b.{0,30}\b(system\s+prompt|instructions)\b",
    # addressed to machine readers in general
    r"\b(ai|language\s+models?|llms?|chatbots?|bots?|ai\s+(systems?|models?|assistants?)|automated\s+(readers?|"
    r"systems?|agents?|tools?))\b.{0,60}\b(must|should|shall|have\s+to|has\s+to|need\s+to|are\s+(required|"
    r"instructed|told|asked)\s+to|only|always|never)\b",
    r"\b(note|message|attention|instructions?|notice)\s*(to|for)?\s*(any|all|the)?\s*(ai|language\s+models?|llms?|"
    r"chatbots?|bots?|assistants?|automated)\b",
    r"\bif\s+you\s+are\s+an?\s+(ai|chatbot|bot|language\s+model|assistant|llm)\b",
    r"\b(whoever|anyone|the\s+(model|system|assistant|bot))\s+(answering|reading|summari[sz]ing|responding)\b",
    r"\b(begin|start|end|prefix)\s+(every|each|all|any)\s+(answer|reply|response)s?\b",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE | re.DOTALL)


def speaks_to_the_model(sentence: str) -> bool:
    """Whether a document sentence addresses the answering model (an order about its reply or instructions)."""
    return bool(_INSTRUCTION.search(sentence))
