"""The question that finishes a concluded session: did the user like it?"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from gptlab_desktop.models import UserLiked
from gptlab_desktop.ui.naming import name_widget


class RatingBar(QWidget):
    """ "How was this session?" with a Liked and a Did-not button."""

    #: The user's answer, a UserLiked.
    rated = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ratingBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("How was this session?", self))
        self.like_button = QPushButton("👍 Liked it", self)
        name_widget(self.like_button, "likeButton", "Liked the session")
        self.dislike_button = QPushButton("👎 Did not", self)
        name_widget(self.dislike_button, "dislikeButton", "Did not like the session")
        layout.addWidget(self.like_button)
        layout.addWidget(self.dislike_button)
        layout.addStretch(1)
        self.like_button.clicked.connect(lambda: self.rated.emit(UserLiked.LIKED))
        self.dislike_button.clicked.connect(lambda: self.rated.emit(UserLiked.DISLIKED))

    def set_busy(self, is_busy: bool) -> None:
        """The buttons wait while the session is busy."""
        self.like_button.setEnabled(not is_busy)
        self.dislike_button.setEnabled(not is_busy)
