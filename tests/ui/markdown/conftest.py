"""Markdown test helpers: a rendering shown in a QTextDocument as the chat shows it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication

from gptlab_desktop.ui.markdown import RenderedMarkdown, add_images


class OfflineDocument(QTextDocument):
    """A document that loads nothing by itself, like the chat's own documents."""

    def __init__(self) -> None:
        super().__init__()
        self.requested: list[str] = []

    def loadResource(self, type: int, name: QUrl) -> object:
        self.requested.append(name.toString())
        return None


@pytest.fixture
def shown(qapp: QApplication):
    """Show a rendering in an offline document 600 px wide, its images given to it first."""

    def show(rendered: RenderedMarkdown, width: float = 600) -> OfflineDocument:
        document = OfflineDocument()
        document.setDocumentMargin(0)
        add_images(document, rendered.images)
        document.setHtml(rendered.html)
        document.setTextWidth(width)
        return document

    return show
