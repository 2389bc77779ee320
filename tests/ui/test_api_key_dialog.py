"""The API key dialog, driven by objectName: check and save, refusals, where the key lives,
removal, and a key that never reaches the clipboard.

The key is checked by the real openai client against a loopback server that accepts one key;
the keyring is a real Secret Service where the test says so, else keyring's ``fail.Keyring``
(no keyring at all).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
from keyring.backends import SecretService, fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QMessageBox, QPushButton, QToolButton

from gptlab_desktop.config import AiEndpoint
from gptlab_desktop.services.account import Account
from gptlab_desktop.services.secrets import SecretStore
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.ui.api_key_dialog import CHECKING_TEXT, EMPTY_KEY_TEXT, ApiKeyDialog
from tests.fakes.keyring_daemon import SecretServiceDaemon
from tests.fakes.openai_server import ErrorReply, FakeOpenAIServer
from tests.ui.conftest import WAIT_MS

GOOD_KEY = "sk-test-DialogGood4c6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c"
WRONG_KEY = "sk-test-DialogWrong999999999999999999999999999999"
ENV_KEY = "sk-test-DialogEnv7777777777777777777777777777777777"
CLIPBOARD_BEFORE = "what the user copied earlier"

keyring_daemon = pytest.mark.keyring_daemon
MakeDialog = Callable[..., ApiKeyDialog]


@pytest.fixture
def server(openai_server: FakeOpenAIServer) -> FakeOpenAIServer:
    openai_server.api_key = GOOD_KEY
    return openai_server


@pytest.fixture
def make_dialog(
    qtbot: Any, qt_loop: qasync.QEventLoop, data_dir: Path, server: FakeOpenAIServer
) -> MakeDialog:
    """Builds a shown dialog for the loopback server, its account loaded."""

    def build(
        backend: Any = None,
        *,
        env_key: str | None = None,
        base_url: str | None = server.base_url,
    ) -> ApiKeyDialog:
        # The dialog never reaches the store (only the data key would), so it stays unopened.
        account = Account(
            SecretStore(backend if backend is not None else fail.Keyring()),
            SqliteStore(data_dir / "gptlab.sqlite3"),
            AiEndpoint(env_api_key=env_key),
        )
        dialog = ApiKeyDialog(account, base_url)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: account.is_loaded, timeout=WAIT_MS)
        return dialog

    return build


def key_edit(dialog: ApiKeyDialog) -> QLineEdit:
    return dialog.findChild(QLineEdit, "apiKeyEdit")


def button(dialog: ApiKeyDialog, name: str) -> QPushButton:
    return dialog.findChild(QPushButton, name)


def label_text(dialog: ApiKeyDialog, name: str) -> str:
    return dialog.findChild(QLabel, name).text()


def enter_key(qtbot: Any, dialog: ApiKeyDialog, key: str) -> None:
    qtbot.keyClicks(key_edit(dialog), key)


def with_selected_key(qtbot: Any, make_dialog: MakeDialog) -> tuple[ApiKeyDialog, QLineEdit]:
    """A dialog, and its key field with a key typed in and all of it selected."""
    dialog = make_dialog()
    enter_key(qtbot, dialog, GOOD_KEY)
    edit = key_edit(dialog)
    edit.selectAll()
    return dialog, edit


def save_key(qtbot: Any, dialog: ApiKeyDialog, key: str) -> None:
    """Type ``key``, press Save, and wait until the dialog has its answer."""
    enter_key(qtbot, dialog, key)
    qtbot.mouseClick(button(dialog, "saveKeyButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.task("save") is None, timeout=WAIT_MS)


@pytest.fixture
def keyring_dialog(make_dialog: MakeDialog, secret_service: SecretServiceDaemon) -> ApiKeyDialog:
    """A shown dialog whose secrets go to the test Secret Service."""
    return make_dialog(SecretService.Keyring())


@pytest.fixture
def clipboard(qapp: QApplication) -> Any:
    board = qapp.clipboard()
    board.setText(CLIPBOARD_BEFORE)
    yield board
    board.clear()


# -- saving ------------------------------------------------------------------------------------


@keyring_daemon
def test_a_key_the_server_accepts_is_saved_in_the_keyring_and_the_dialog_says_so(
    qtbot: Any, keyring_dialog: ApiKeyDialog, secret_service: SecretServiceDaemon
) -> None:
    enter_key(qtbot, keyring_dialog, GOOD_KEY)

    with qtbot.waitSignal(keyring_dialog.keySaved, timeout=WAIT_MS):
        qtbot.mouseClick(button(keyring_dialog, "saveKeyButton"), Qt.MouseButton.LeftButton)

    assert secret_service.stored_secrets() == [GOOD_KEY]
    assert (
        label_text(keyring_dialog, "keyStatusLabel")
        == "Your API key is stored in your system keyring."
    )
    assert label_text(keyring_dialog, "keyFeedbackLabel").startswith("Key accepted")


def test_after_saving_the_typed_key_is_cleared_from_the_field(
    qtbot: Any, make_dialog: MakeDialog
) -> None:
    dialog = make_dialog()

    save_key(qtbot, dialog, GOOD_KEY)

    assert key_edit(dialog).text() == ""


def test_a_wrong_key_shows_the_services_sentence_and_saves_nothing(
    qtbot: Any, make_dialog: MakeDialog
) -> None:
    dialog = make_dialog()
    saved: list[bool] = []
    dialog.keySaved.connect(lambda: saved.append(True))

    save_key(qtbot, dialog, WRONG_KEY)

    feedback = label_text(dialog, "keyFeedbackLabel")
    assert feedback.startswith("The AI service did not accept your API key")
    assert WRONG_KEY not in feedback
    assert saved == []
    assert dialog._account.api_key is None
    assert label_text(dialog, "keyStatusLabel").startswith("No API key is set.")


@keyring_daemon
def test_a_wrong_key_never_reaches_the_keyring(
    qtbot: Any, keyring_dialog: ApiKeyDialog, secret_service: SecretServiceDaemon
) -> None:
    save_key(qtbot, keyring_dialog, WRONG_KEY)

    assert secret_service.stored_secrets() == []


def test_the_dialog_shows_it_is_checking_while_the_server_answers(
    qtbot: Any, make_dialog: MakeDialog, server: FakeOpenAIServer
) -> None:
    server.script(ErrorReply(401, delay_s=1.0), endpoint="models")
    dialog = make_dialog()
    enter_key(qtbot, dialog, GOOD_KEY)

    qtbot.mouseClick(button(dialog, "saveKeyButton"), Qt.MouseButton.LeftButton)

    save = button(dialog, "saveKeyButton")
    assert label_text(dialog, "keyFeedbackLabel") == CHECKING_TEXT
    assert save.text() == "Checking…"
    assert not save.isEnabled()
    assert key_edit(dialog).isReadOnly()
    qtbot.waitUntil(lambda: save.text() == "Check and Save", timeout=WAIT_MS)
    assert not key_edit(dialog).isReadOnly()


def test_save_is_disabled_until_a_key_is_typed(qtbot: Any, make_dialog: MakeDialog) -> None:
    dialog = make_dialog()
    save = button(dialog, "saveKeyButton")
    assert not save.isEnabled()

    enter_key(qtbot, dialog, "s")

    assert save.isEnabled()


def test_saving_an_empty_key_asks_for_one_without_asking_the_server(
    make_dialog: MakeDialog, server: FakeOpenAIServer
) -> None:
    dialog = make_dialog()

    assert dialog.save() is None

    assert label_text(dialog, "keyFeedbackLabel") == EMPTY_KEY_TEXT
    assert server.requests == []


# -- where the key lives -----------------------------------------------------------------------


def test_without_a_keyring_the_dialog_says_the_key_is_kept_in_memory_for_this_run(
    qtbot: Any, make_dialog: MakeDialog
) -> None:
    dialog = make_dialog(fail.Keyring())

    save_key(qtbot, dialog, GOOD_KEY)

    assert "kept in memory for this run only" in label_text(dialog, "keyStatusLabel")


def test_a_key_from_the_environment_is_shown_as_not_saved(make_dialog: MakeDialog) -> None:
    dialog = make_dialog(env_key=ENV_KEY)

    assert label_text(dialog, "keyStatusLabel") == (
        "Using the key from the OPENAI_API_KEY environment variable — not saved."
    )
    assert not button(dialog, "removeKeyButton").isEnabled()


def test_the_server_is_shown(make_dialog: MakeDialog, server: FakeOpenAIServer) -> None:
    dialog = make_dialog()

    assert label_text(dialog, "baseUrlLabel") == f"Server: {server.base_url}"


# -- removing ----------------------------------------------------------------------------------


def confirmation(dialog: ApiKeyDialog) -> QMessageBox:
    box = dialog.findChild(QMessageBox, "removeKeyConfirmation")
    assert box is not None and box.isVisible()
    return box


@keyring_daemon
def test_removing_asks_first_then_deletes_the_key_from_the_keyring(
    qtbot: Any, keyring_dialog: ApiKeyDialog, secret_service: SecretServiceDaemon
) -> None:
    save_key(qtbot, keyring_dialog, GOOD_KEY)

    qtbot.mouseClick(button(keyring_dialog, "removeKeyButton"), Qt.MouseButton.LeftButton)
    remove = confirmation(keyring_dialog).findChild(QPushButton, "confirmRemoveKeyButton")
    with qtbot.waitSignal(keyring_dialog.keyRemoved, timeout=WAIT_MS):
        qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)

    assert secret_service.stored_secrets() == []
    assert label_text(keyring_dialog, "keyStatusLabel") == "No API key is set."
    assert not button(keyring_dialog, "removeKeyButton").isEnabled()


def test_cancelling_the_removal_keeps_the_key(qtbot: Any, make_dialog: MakeDialog) -> None:
    dialog = make_dialog()
    save_key(qtbot, dialog, GOOD_KEY)

    qtbot.mouseClick(button(dialog, "removeKeyButton"), Qt.MouseButton.LeftButton)
    box = confirmation(dialog)
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=WAIT_MS)

    assert dialog.task("remove") is None
    assert dialog._account.api_key is not None


# -- without a key -----------------------------------------------------------------------------


def test_continuing_without_a_key_is_offered_for_a_compatible_server(
    make_dialog: MakeDialog,
) -> None:
    dialog = make_dialog()

    assert button(dialog, "continueWithoutKeyButton").isVisibleTo(dialog)


def test_continuing_without_a_key_is_not_offered_for_openai(make_dialog: MakeDialog) -> None:
    dialog = make_dialog(base_url=None)

    assert not button(dialog, "continueWithoutKeyButton").isVisibleTo(dialog)


def test_continuing_without_a_key_says_so_and_closes(qtbot: Any, make_dialog: MakeDialog) -> None:
    dialog = make_dialog()

    with qtbot.waitSignal(dialog.continuedWithoutKey, timeout=WAIT_MS):
        qtbot.mouseClick(button(dialog, "continueWithoutKeyButton"), Qt.MouseButton.LeftButton)

    assert not dialog.isVisible()


# -- the clipboard -----------------------------------------------------------------------------


def test_copying_from_the_key_field_puts_nothing_on_the_clipboard(
    qtbot: Any, make_dialog: MakeDialog, clipboard: Any
) -> None:
    _dialog, edit = with_selected_key(qtbot, make_dialog)

    qtbot.keyClick(edit, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    edit.copy()

    assert edit.echoMode() is QLineEdit.EchoMode.Password
    assert clipboard.text() == CLIPBOARD_BEFORE


def test_cutting_from_the_key_field_puts_nothing_on_the_clipboard(
    qtbot: Any, make_dialog: MakeDialog, clipboard: Any
) -> None:
    _dialog, edit = with_selected_key(qtbot, make_dialog)

    qtbot.keyClick(edit, Qt.Key.Key_X, Qt.KeyboardModifier.ControlModifier)

    assert clipboard.text() == CLIPBOARD_BEFORE
    assert edit.text() == GOOD_KEY


def test_a_shown_key_cannot_be_selected_or_copied(
    qtbot: Any, make_dialog: MakeDialog, clipboard: Any
) -> None:
    dialog = make_dialog()
    edit = key_edit(dialog)
    enter_key(qtbot, dialog, GOOD_KEY)
    qtbot.mouseClick(dialog.findChild(QToolButton, "showKeyButton"), Qt.MouseButton.LeftButton)

    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    edit.copy()

    assert edit.echoMode() is QLineEdit.EchoMode.Normal
    assert not edit.hasSelectedText()
    assert clipboard.text() == CLIPBOARD_BEFORE


def test_the_show_button_reveals_the_key_and_hides_it_again(
    qtbot: Any, make_dialog: MakeDialog
) -> None:
    dialog = make_dialog()
    show = dialog.findChild(QToolButton, "showKeyButton")

    qtbot.mouseClick(show, Qt.MouseButton.LeftButton)
    assert key_edit(dialog).echoMode() is QLineEdit.EchoMode.Normal
    qtbot.mouseClick(show, Qt.MouseButton.LeftButton)

    assert key_edit(dialog).echoMode() is QLineEdit.EchoMode.Password


def test_the_key_field_offers_no_context_menu(make_dialog: MakeDialog) -> None:
    assert key_edit(make_dialog()).contextMenuPolicy() is Qt.ContextMenuPolicy.NoContextMenu


def test_closing_the_dialog_forgets_the_typed_key(qtbot: Any, make_dialog: MakeDialog) -> None:
    dialog = make_dialog()
    enter_key(qtbot, dialog, GOOD_KEY)

    qtbot.mouseClick(button(dialog, "closeButton"), Qt.MouseButton.LeftButton)

    assert key_edit(dialog).text() == ""
