"""The form's sampling rows: the API's ranges and personality templates in step with the values."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox

from tests.ui.editor.conftest import child, new_dialog


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("temperatureSpin", 0.0, 2.0),
        ("topPSpin", 0.0, 1.0),
        ("frequencyPenaltySpin", -2.0, 2.0),
        ("presencePenaltySpin", -2.0, 2.0),
    ],
)
def test_sampling_spins_hold_the_api_ranges(qtbot, make_dialog, name, low, high) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    spin = child(dialog, QDoubleSpinBox, name)
    spin.setValue(high + 5)
    assert spin.value() == high
    spin.setValue(low - 5)
    assert spin.value() == low


@pytest.mark.parametrize(
    ("template", "values"),
    [
        ("Coaching", (0.5, 0.9, 0.3, 0.2)),
        ("Creative", (1.0, 0.7, 0.1, 0.1)),
        ("Sarcastic", (0.8, 0.9, 0.1, 0.1)),
        ("Truthful", (0.5, 0.9, 0.1, 0.2)),
        ("Witty", (0.7, 0.9, 0.1, 0.1)),
        ("Custom", (0.7, 1.0, 0.0, 0.0)),
    ],
)
def test_a_personality_template_fills_the_sampling_spins(
    qtbot, make_dialog, template, values
) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    combo = child(dialog, QComboBox, "personalityCombo")
    combo.setCurrentIndex(combo.findText("Creative" if template == "Custom" else "Custom"))
    combo.setCurrentIndex(combo.findText(template))
    spins = ("temperatureSpin", "topPSpin", "frequencyPenaltySpin", "presencePenaltySpin")
    assert tuple(child(dialog, QDoubleSpinBox, s).value() for s in spins) == values


def test_changing_a_sampling_value_by_hand_selects_custom(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    combo = child(dialog, QComboBox, "personalityCombo")
    combo.setCurrentIndex(combo.findText("Witty"))
    child(dialog, QDoubleSpinBox, "temperatureSpin").setValue(1.7)
    assert combo.currentText() == "Custom"
