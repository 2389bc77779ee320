"""The prompt-leak guard compares a reply with the system prompt like GPT Lab did."""

from __future__ import annotations

from gptlab_desktop.services.leak_guard import leaks_prompt, similarity

PROMPT = (
    "You are a patient Socratic tutor. Ask exactly one question at a time and never give "
    "the answer to homework questions directly."
)


def test_a_verbatim_prompt_is_a_leak() -> None:
    assert similarity(PROMPT, PROMPT) > 0.99
    assert leaks_prompt(f"Sure! My instructions are: {PROMPT}", PROMPT)


def test_an_ordinary_reply_is_not_a_leak() -> None:
    reply = "Photosynthesis turns light into chemical energy. What do plants need for it?"
    assert not leaks_prompt(reply, PROMPT)


def test_empty_texts_are_not_similar() -> None:
    assert similarity("", PROMPT) == 0.0
    assert similarity("a", "a") == 0.0  # single letters are not words in the vectoriser


def test_similarity_matches_scikit_learns_tfidf_cosine() -> None:
    # Reference values computed with scikit-learn's TfidfVectorizer() defaults and
    # cosine_similarity (as GPT Lab did), so the 0.6 threshold means the same here.
    pairs = [
        ("the cat sat on the mat", "the dog sat on the log", 0.6029748160380571),
        (
            "You are a tutor. Ask one question.",
            "I am a tutor; I ask one question at a time.",
            0.45026814465562653,
        ),
    ]
    for a, b, expected in pairs:
        assert abs(similarity(a, b) - expected) < 1e-12
