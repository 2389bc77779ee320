"""The initial prompt's token count, and a prompt that does not fit the model's context window."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLabel, QPlainTextEdit, QSpinBox

from tests.ui.conftest import WAIT_MS
from tests.ui.editor.conftest import child, filled_new_dialog, new_dialog, save_blocked_because


def test_the_initial_prompt_token_count_follows_the_text(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    child(dialog, QComboBox, "modelCombo").setCurrentText("gpt-4o")
    child(dialog, QPlainTextEdit, "initialPromptEdit").setPlainText(("hello " * 100).strip())
    label = child(dialog, QLabel, "initialPromptTokensLabel")
    qtbot.waitUntil(lambda: dialog.prompt_tokens is not None, timeout=WAIT_MS)
    assert dialog.prompt_tokens == 100
    assert "100 tokens of gpt-4o's 128,000-token context window" in label.text()


def test_a_prompt_and_limit_beyond_the_context_window_cannot_be_saved(qtbot, make_dialog) -> None:
    dialog = filled_new_dialog(qtbot, make_dialog)
    child(dialog, QComboBox, "modelCombo").setCurrentText("my-local-model")  # 4,096 tokens
    child(dialog, QSpinBox, "maxTokensSpin").setValue(4000)
    child(dialog, QPlainTextEdit, "initialPromptEdit").setPlainText("word " * 300)
    qtbot.waitUntil(lambda: dialog.prompt_tokens is not None, timeout=WAIT_MS)
    assert "context window" in save_blocked_because(dialog)
