"""Small Qt helpers the window's parts share: paints, viewports, bringing a window forward."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QMainWindow, QSplitter, QWidget

# Where the main window's layout is kept between runs.
_GEOMETRY_KEY = "mainWindow/geometry"
_SPLITTER_KEY = "mainWindow/splitterState"


class _PaintWatch(QObject):
    """Sets ``painted`` when the watched widget paints."""

    def __init__(self) -> None:
        super().__init__()
        self.painted = asyncio.Event()

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
        """Note a paint; every event goes on."""
        if event.type() == QEvent.Type.Paint:
            self.painted.set()
        return False


async def next_paint(widget: QWidget, timeout_s: float) -> None:
    """Wait until ``widget`` paints, at most ``timeout_s`` (a hidden one never does)."""
    if not widget.isVisible():
        return
    watch = _PaintWatch()
    widget.installEventFilter(watch)
    try:
        await asyncio.wait_for(watch.painted.wait(), timeout_s)
    except TimeoutError:
        pass
    finally:
        widget.removeEventFilter(watch)


def viewport_made_here() -> QWidget:
    """A scroll area's viewport, made as Qt makes its own, but from Python.

    The first time Python touches a widget Qt made itself (a scroll area's own viewport),
    PySide6 finds its type by trying every QWidget subclass, loading each class and creating
    its enums: ~11 ms, which the lobby's first paint (it waits on the viewport's paint) would
    pay. A viewport made here is known to PySide6 already.
    """
    viewport = QWidget()
    viewport.setObjectName("qt_scrollarea_viewport")
    viewport.setBackgroundRole(QPalette.ColorRole.Base)
    viewport.setAutoFillBackground(True)
    return viewport


def bring_forward(widget: QWidget) -> None:
    """Show a window, or raise it when it is already shown, and give it the focus."""
    if widget.isVisible():
        widget.raise_()
    else:
        widget.show()
    widget.activateWindow()


def documents_folder() -> str:
    """The user's documents folder (else home): where file dialogs start."""
    from PySide6.QtCore import QDir, QStandardPaths

    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return folder or QDir.homePath()


def restore_layout(settings: QSettings, window: QMainWindow, splitter: QSplitter) -> None:
    """The window's size, place and divider as the last run left them (if saved)."""
    geometry = settings.value(_GEOMETRY_KEY)
    if isinstance(geometry, QByteArray) and not geometry.isEmpty():
        window.restoreGeometry(geometry)
    splitter_state = settings.value(_SPLITTER_KEY)
    if isinstance(splitter_state, QByteArray) and not splitter_state.isEmpty():
        splitter.restoreState(splitter_state)


def save_layout(settings: QSettings, window: QMainWindow, splitter: QSplitter) -> None:
    """Keep the window's size, place and divider for the next run."""
    settings.setValue(_GEOMETRY_KEY, window.saveGeometry())
    settings.setValue(_SPLITTER_KEY, splitter.saveState())
    settings.sync()
