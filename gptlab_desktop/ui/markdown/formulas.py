"""LaTeX formulas drawn as SVG images (with ziamath) that a QTextDocument shows.

A document never loads anything by itself (message text is untrusted, and the chat's
documents refuse every resource), so a formula's image travels beside the HTML under a name
the HTML's ``<img>`` refers to, and the caller adds it to the document as a resource
(``add_images``). ziamath costs about 0.2 s to import, so it is imported when the first
formula is drawn, never before.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QTextDocument

# The scheme of a formula image's name in the HTML: ``math:<digest>``.
MATH_SCHEME = "math"

# The image is drawn at twice its size on screen, so it stays sharp on a high-DPI screen.
_OVERSAMPLE = 2.0
# Longer formulas are shown as source: typesetting grows with the formula, and a reply
# must not stall the window.
_LONGEST_FORMULA = 2000

# ziamath keeps fonts and numbering in module globals.
_lock = threading.Lock()
_preparing: threading.Thread | None = None
# How many formulas were shown as source because ziamath was still being imported.
_shown_as_source = 0


def formulas_shown_as_source() -> int:
    """How many formulas so far were shown as their source while ziamath was imported (a
    document showing one is rendered again once the import is done)."""
    return _shown_as_source


def prepare_math() -> None:
    """Import ziamath in a worker thread, once: a reply whose text begins to hold math calls
    this, so that its first formula is not drawn after a 0.2 s import on the GUI thread."""
    global _preparing
    if _preparing is None:
        _preparing = threading.Thread(target=_import_ziamath, name="prepare-math", daemon=True)
        _preparing.start()


def _import_ziamath() -> None:
    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import ziamath  # noqa: F401  (imported for later use)


@dataclass(frozen=True, slots=True)
class MathImage:
    """One formula drawn: its name in the HTML, its SVG, and its size on screen in pixels.

    An inline formula's image is padded so that its baseline runs through its middle: shown
    with ``vertical-align: middle`` it then sits on the line's baseline like the text.
    """

    name: str
    svg: bytes
    width: float
    height: float


def formula_image(latex: str, *, display: bool, pixel_size: float, colour: str) -> MathImage | None:
    """The formula drawn as an image, or None if it cannot be drawn (shown as source then)."""
    global _shown_as_source
    latex = latex.strip()
    if not latex or len(latex) > _LONGEST_FORMULA:
        return None
    if _preparing is not None and _preparing.is_alive():
        # Being imported in a worker thread: shown as source for now, never waited for.
        _shown_as_source += 1
        return None
    return _drawn(latex, display, round(pixel_size, 1), colour)


@lru_cache(maxsize=512)
def _drawn(latex: str, display: bool, pixel_size: float, colour: str) -> MathImage | None:
    """A formula drawn once; a reply that streams shows the same formula in many updates."""
    with _lock:
        try:
            svg = _svg_element(latex, display, pixel_size, colour)
        except Exception:  # ziamath and latex2mathml fail in many ways on bad input
            return None
    return _sized(svg, display)


def _svg_element(latex: str, display: bool, pixel_size: float, colour: str) -> ElementTree.Element:
    with warnings.catch_warnings():
        # ziamath finds its font through a deprecated importlib.resources call.
        warnings.simplefilter("ignore", DeprecationWarning)
        import ziamath  # lazily: only a message with math pays for it (see prepare_math)

    # SVG 1.1 (xlink:href), which Qt's SVG renderer reads.
    ziamath.config.svg2 = False
    formula = ziamath.Latex(latex, size=pixel_size, inline=not display, color=colour)
    return formula.svgxml()


def _sized(svg: ElementTree.Element, display: bool) -> MathImage | None:
    left, top, width, height = (float(value) for value in svg.attrib["viewBox"].split())
    if width <= 0 or height <= 0:
        return None
    if not display:
        # The viewBox has the baseline at y = 0: make it the middle.
        half = max(-top, top + height)
        top, height = -half, 2 * half
    svg.attrib["viewBox"] = f"{left:g} {top:g} {width:g} {height:g}"
    svg.attrib["width"] = f"{width * _OVERSAMPLE:g}"
    svg.attrib["height"] = f"{height * _OVERSAMPLE:g}"
    data = ElementTree.tostring(svg, encoding="utf-8")
    name = f"{MATH_SCHEME}:{hashlib.sha1(data, usedforsecurity=False).hexdigest()[:20]}"
    return MathImage(name=name, svg=data, width=width, height=height)


def add_images(document: QTextDocument, images: Mapping[str, bytes]) -> None:
    """Give a document the formula images its HTML refers to; do it before setting the HTML.

    A chat document refuses to load resources, so an image it was not given shows as nothing.
    """
    if not images:
        return
    from PySide6.QtCore import QByteArray, QUrl
    from PySide6.QtGui import QTextDocument

    for name, data in images.items():
        document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), QByteArray(data))
