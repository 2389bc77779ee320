"""The editor's form: every field named, character counters, and save held back until valid."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
)

from tests.ui.editor.conftest import (
    child,
    filled_new_dialog,
    new_dialog,
    problems_text,
    save_blocked_because,
    save_button,
)


def test_every_field_has_its_object_and_accessible_name(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    assert dialog.objectName() == "assistantEditor"
    for kind, name in [
        (QLineEdit, "nameEdit"),
        (QLineEdit, "tagLineEdit"),
        (QPlainTextEdit, "descriptionEdit"),
        (QPlainTextEdit, "initialPromptEdit"),
        (QPlainTextEdit, "summaryPromptEdit"),
        (QComboBox, "sessionTypeCombo"),
        (QComboBox, "modelCombo"),
        (QSpinBox, "maxTokensSpin"),
        (QDoubleSpinBox, "temperatureSpin"),
        (QDoubleSpinBox, "topPSpin"),
        (QDoubleSpinBox, "frequencyPenaltySpin"),
        (QDoubleSpinBox, "presencePenaltySpin"),
        (QComboBox, "personalityCombo"),
        (QCheckBox, "guardPromptCheck"),
        (QPushButton, "saveButton"),
        (QPushButton, "tryItButton"),
    ]:
        assert child(dialog, kind, name).accessibleName(), name


def test_an_empty_form_cannot_be_saved_and_says_why(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    assert "Give the assistant a name." in save_blocked_because(dialog)
    assert "Write the initial prompt" in problems_text(dialog)


def test_a_filled_form_can_be_saved(qtbot, make_dialog) -> None:
    dialog = filled_new_dialog(qtbot, make_dialog)
    assert save_button(dialog).isEnabled()
    assert not child(dialog, QLabel, "problemsLabel").isVisibleTo(dialog)


@pytest.mark.parametrize(
    ("widget", "kind", "bad", "hint", "words"),
    [
        ("nameEdit", QLineEdit, "n" * 31, "nameHint", "the limit is 30"),
        ("nameEdit", QLineEdit, "  ", "nameHint", "Give the assistant a name"),
        ("tagLineEdit", QLineEdit, "t" * 26, "tagLineHint", "the limit is 25"),
        ("descriptionEdit", QPlainTextEdit, "d" * 251, "descriptionHint", "the limit is 250"),
        ("initialPromptEdit", QPlainTextEdit, "p" * 2001, "initialPromptHint", "limit is 2,000"),
        ("initialPromptEdit", QPlainTextEdit, "", "initialPromptHint", "Write the initial prompt"),
        ("summaryPromptEdit", QPlainTextEdit, "s" * 501, "summaryPromptHint", "the limit is 500"),
    ],
)
def test_an_invalid_text_field_disables_save_with_its_reason_until_fixed(
    qtbot, make_dialog, widget, kind, bad, hint, words
) -> None:
    dialog = filled_new_dialog(qtbot, make_dialog)
    field = child(dialog, kind, widget)
    good = field.text() if kind is QLineEdit else field.toPlainText()
    (field.setText if kind is QLineEdit else field.setPlainText)(bad)
    assert words in save_blocked_because(dialog)
    assert words in child(dialog, QLabel, hint).text()
    (field.setText if kind is QLineEdit else field.setPlainText)(good)
    assert save_button(dialog).isEnabled()


def test_text_fields_show_character_counters(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    child(dialog, QLineEdit, "nameEdit").setText("Socrates")
    assert child(dialog, QLabel, "nameHint").text().startswith("8 / 30 characters.")
    child(dialog, QLineEdit, "tagLineEdit").setText("abc")
    assert child(dialog, QLabel, "tagLineHint").text().startswith("3 / 25 characters.")
