"""The transcript's scroll bar, which repaints only when what it shows changes.

Per chat turn (bench/bench_turn.py), Qt's own scroll bar repainted on every change of range,
once or twice a turn, which cost more than painting the new rows themselves.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QAbstractSlider, QScrollBar, QStyle, QStyleOptionSlider, QWidget


class QuietScrollBar(QScrollBar):
    """A scroll bar that repaints when what it shows changes, not on every change of range.

    Qt repaints a scroll bar on each change of its range or value, and Fusion's costs about
    1 ms a paint at a window's height: each new message and each reply's growth paid it. In a
    transcript longer than a few screens, pinned to the bottom, a new row moves the slider by
    less than a pixel, so most of those paints drew the same picture again.
    """

    def __init__(self, orientation: Qt.Orientation, parent: QWidget | None = None) -> None:
        super().__init__(orientation, parent)
        self._painted_look: tuple[object, ...] | None = None
        self._is_batching = False
        self._groove_key: tuple[object, ...] | None = None
        self._groove_pixmap: QPixmap | None = None

    @contextlib.contextmanager
    def changes_batched(self) -> Iterator[None]:
        """Change range and value together, then repaint once if the result shows.

        Growing the range first moves the value off the end; only the view's scroll back to
        it, a moment later, is what is shown.
        """
        if self._is_batching:
            yield
            return
        self._is_batching = True
        try:
            yield
        finally:
            self._is_batching = False
            self._update_if_changed()

    def look(self) -> tuple[object, ...]:
        """Everything of the range and value that painting shows: the slider's place, the
        state, and whether the value is at either end (some styles grey out an arrow there)."""
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        slider = self.style().subControlRect(
            QStyle.ComplexControl.CC_ScrollBar,
            option,
            QStyle.SubControl.SC_ScrollBarSlider,
            self,
        )
        return (
            slider.getRect(),
            option.state,
            option.minimum == option.maximum,
            option.sliderValue == option.minimum,
            option.sliderValue == option.maximum,
        )

    def sliderChange(self, change: QAbstractSlider.SliderChange) -> None:
        """Repaint only if the change shows (Qt's own version always repaints)."""
        if not self._is_batching:
            self._update_if_changed()

    def _update_if_changed(self) -> None:
        if self._painted_look is None or self.look() != self._painted_look:
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paint as Qt does, the groove from a cached pixmap; remember what was painted.

        The groove is most of the cost (Fusion fills the bar's whole height with a gradient)
        and depends on nothing that scrolling changes. Under the mouse, Qt's own painting is
        used: which part is hovered or pressed is known only inside QScrollBar.
        """
        self._painted_look = self.look()
        style = self.style()
        if (
            self.underMouse()
            or self.isSliderDown()
            or style.styleHint(QStyle.StyleHint.SH_ScrollBar_Transient, None, self)
        ):
            super().paintEvent(event)
            return
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._groove(option))
        option.subControls = QStyle.SubControl.SC_All & ~QStyle.SubControl.SC_ScrollBarGroove
        style.drawComplexControl(QStyle.ComplexControl.CC_ScrollBar, option, painter, self)
        painter.end()

    def changeEvent(self, event: QEvent) -> None:
        """Another style draws another groove: drop the cached one."""
        if event.type() == QEvent.Type.StyleChange:
            self._groove_pixmap = None
        super().changeEvent(event)

    def _groove(self, option: QStyleOptionSlider) -> QPixmap:
        ratio = self.devicePixelRatioF()
        key = (option.rect.size().toTuple(), ratio, option.state, option.palette.cacheKey())
        if self._groove_key != key or self._groove_pixmap is None:
            pixmap = QPixmap(
                math.ceil(option.rect.width() * ratio), math.ceil(option.rect.height() * ratio)
            )
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            groove = QStyleOptionSlider(option)
            groove.subControls = QStyle.SubControl.SC_ScrollBarGroove
            painter = QPainter(pixmap)
            self.style().drawComplexControl(
                QStyle.ComplexControl.CC_ScrollBar, groove, painter, self
            )
            painter.end()
            self._groove_key, self._groove_pixmap = key, pixmap
        return self._groove_pixmap
