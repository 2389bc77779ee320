"""GPT Lab's prompt-leak guard: a reply too similar to the system prompt is withheld.

Similarity is the cosine of TF-IDF vectors fitted on the two texts, with the conventions of
scikit-learn's ``TfidfVectorizer`` defaults that GPT Lab used (lower-cased words of two or more
word characters, smoothed IDF, L2 norm), so its 0.6 threshold keeps its meaning.
"""

from __future__ import annotations

import math
import re
from collections import Counter

LEAK_THRESHOLD = 0.6
REFUSAL = "Sorry, but I can not reveal that. Let's talk about something else."

_WORD = re.compile(r"(?u)\b\w\w+\b")


def _tfidf(counts: Counter[str], idf: dict[str, float]) -> dict[str, float]:
    weights = {term: count * idf[term] for term, count in counts.items()}
    norm = math.sqrt(sum(w * w for w in weights.values()))
    return {term: w / norm for term, w in weights.items()} if norm else {}


def similarity(a: str, b: str) -> float:
    """TF-IDF cosine similarity of two texts, between 0 and 1."""
    docs = [Counter(_WORD.findall(a.lower())), Counter(_WORD.findall(b.lower()))]
    if not docs[0] or not docs[1]:
        return 0.0
    n = len(docs)
    vocabulary = set(docs[0]) | set(docs[1])
    idf = {
        term: math.log((1 + n) / (1 + sum(term in doc for doc in docs))) + 1.0
        for term in vocabulary
    }
    va, vb = _tfidf(docs[0], idf), _tfidf(docs[1], idf)
    return sum(weight * vb.get(term, 0.0) for term, weight in va.items())


def leaks_prompt(reply: str, system_prompt: str) -> bool:
    """Whether ``reply`` is so close to ``system_prompt`` that it likely reveals it."""
    return similarity(reply, system_prompt) > LEAK_THRESHOLD
