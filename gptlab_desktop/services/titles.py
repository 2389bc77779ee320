"""Chat titles as plain text: what a model's Markdown (``**bold**``, ``# heading``, backticks,
links) becomes in a one-line list of chats. Angle brackets stay: a title may well be about
``<div>``.

Titles come from a model's suggestion, the user's rename, or another machine, and are shown
as plain text everywhere; this is the one place that decides how Markdown is taken out.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Any character Markdown could be using: a title without one is only tidied.
_MARK = re.compile(r"[*_`#\[\]<>~!|\\]")
_LIST_ITEM = re.compile(r"\s*(?:[-+]|\d+[.)])\s")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_REFERENCE_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_CODE = re.compile(r"(`+)(.+?)\1")
# Emphasis: the markers hug the text (``** x **`` is not emphasis) and, for underscores, stand
# outside a word, so ``snake_case_name`` keeps its underscores and ``2*3*4`` its stars.
_STRONG_STARS = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_STRONG_UNDERSCORES = re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")
_EMPHASIS_STARS = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_EMPHASIS_UNDERSCORES = re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
# What opens a line: a heading, a quote, a list item.
_LINE_START = re.compile(r"^(?:\s*(?:#{1,6}(?=\s|$)|>|[-+*](?=\s)|\d+[.)](?=\s)))+\s*")
_TRAILING_HASHES = re.compile(r"\s+#+\s*$")
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~<>])")
# Escaped characters (all ASCII) are moved to the private use area while marks are removed.
_HIDDEN = 0xE000
_HIDDEN_MARK = re.compile("[\ue000-\ue07f]")


@lru_cache(maxsize=4096)
def plain_title(text: str) -> str:
    """``text`` as a plain title on one line: Markdown taken out of each line (link and image
    text kept), the lines joined, whitespace collapsed. Plain text comes back only tidied."""
    if "\n" not in text and "\r" not in text and not _may_be_markdown(text):
        return " ".join(text.split())
    lines = (
        _strip_markdown(line) if _may_be_markdown(line) else line for line in text.splitlines()
    )
    return " ".join(" ".join(lines).split())


def _may_be_markdown(line: str) -> bool:
    return _MARK.search(line) is not None or _LIST_ITEM.match(line) is not None


def first_line(text: str) -> str:
    """The first line of ``text`` with something on it ("" if none): a model's title
    suggestion may go on to explain itself."""
    return next((line for line in text.splitlines() if line.strip()), "")


def _strip_markdown(line: str) -> str:
    # Escaped marks stand for themselves: hidden from the patterns below, then given back.
    line = _ESCAPED.sub(lambda found: chr(_HIDDEN + ord(found.group(1))), line)
    is_heading = line.lstrip().startswith("#")
    line = _LINE_START.sub("", line)
    if is_heading:
        line = _TRAILING_HASHES.sub("", line)
    # ``split`` with the code pattern's two groups yields text, ticks, code, text, … text:
    # what is inside backticks is shown as written, the rest loses its marks.
    out: list[str] = []
    for number, piece in enumerate(_CODE.split(line)):
        kind = number % 3
        if kind == 0:
            out.append(_strip_inline(piece))
        elif kind == 2:
            out.append(piece.strip())
    return _HIDDEN_MARK.sub(lambda found: chr(ord(found.group()) - _HIDDEN), "".join(out))


def _strip_inline(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REFERENCE_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    for pattern in (
        _STRONG_STARS,
        _STRONG_UNDERSCORES,
        _EMPHASIS_STARS,
        _EMPHASIS_UNDERSCORES,
        _STRIKE,
    ):
        text = pattern.sub(r"\1", text)
    return text
