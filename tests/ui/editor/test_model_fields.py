"""The form's model rows: the server's models (or the built-in list) and the bounded reply limit."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLabel, QSpinBox

from gptlab_desktop.services.assistant_lab import AssistantLab
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.llm_api import LlmSettings
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.ui.editor.dialog import AssistantEditorDialog
from tests.fakes.openai_server import unused_loopback_url
from tests.ui.conftest import WAIT_MS
from tests.ui.editor.conftest import (
    child,
    close_dialog,
    filled_new_dialog,
    new_dialog,
    run,
    save_blocked_because,
    save_button,
)


def test_an_unreachable_server_offers_the_built_in_list_flagged(qtbot, store, user) -> None:
    client = OpenAIClient(
        LlmSettings(base_url=unused_loopback_url(), api_key="k", timeout_s=2, max_retries=0)
    )
    dialog = AssistantEditorDialog(
        AssistantLab(store, Providers.of_client(client)), creator_user_id=user.id
    )
    qtbot.waitUntil(dialog.start_new().done, timeout=WAIT_MS)
    hint = child(dialog, QLabel, "modelHint")
    assert hint.property("isFallback") is True
    assert "built-in" in hint.text()
    close_dialog(qtbot, dialog)
    run(qtbot, client.aclose())


def test_an_empty_model_disables_save_with_its_reason(qtbot, make_dialog) -> None:
    dialog = filled_new_dialog(qtbot, make_dialog)
    child(dialog, QComboBox, "modelCombo").setCurrentText("")
    assert "Choose a model." in save_blocked_because(dialog)
    child(dialog, QComboBox, "modelCombo").setCurrentText("llama3:8b")
    assert save_button(dialog).isEnabled()


def test_the_response_limit_is_bounded_by_the_model_and_explained(qtbot, make_dialog) -> None:
    dialog = filled_new_dialog(qtbot, make_dialog)
    spin = child(dialog, QSpinBox, "maxTokensSpin")
    child(dialog, QComboBox, "modelCombo").setCurrentText("gpt-4")
    assert spin.maximum() == 8192
    assert "1 to 8,192 tokens for gpt-4" in child(dialog, QLabel, "maxTokensHint").text()
    assert spin.singleStep() == 50
    child(dialog, QComboBox, "modelCombo").setCurrentText("my-local-model")
    assert spin.maximum() == 1_000_000
    assert "not known" in child(dialog, QLabel, "maxTokensHint").text()


def test_the_model_list_comes_from_the_server_and_free_text_is_allowed(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    combo = child(dialog, QComboBox, "modelCombo")
    assert combo.isEditable()
    assert "gpt-4o-mini" in [combo.itemText(i) for i in range(combo.count())]
    assert child(dialog, QLabel, "modelHint").property("isFallback") is False
