"""Settings → Storage… and the sync's line in the status bar, driven in the app's own window: a
local run says nothing of sync; a run on a Firestore project (the real emulator) connects in
the background, shows the recovery kit once, says "Synced", and shows what another computer
wrote when it arrives."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPlainTextEdit, QPushButton, QRadioButton

from gptlab_desktop.config import StorageMode, read_storage_settings
from gptlab_desktop.models import new_id
from gptlab_desktop.services.store.cloud.documents import RecordCipher
from gptlab_desktop.services.store.cloud.firestore import FirestoreStore
from gptlab_desktop.services.store.cloud.replayer import OutboxReplayer
from gptlab_desktop.services.store.cloud.settings import FirestoreSettings
from gptlab_desktop.services.store.cloud.synced import SyncedStore
from gptlab_desktop.ui.main_window import MainWindow
from gptlab_desktop.ui.settings.storage_page import StoragePage
from tests.builders import DB_NAME, make_message, start_session
from tests.fakes.firestore_emulator import EMULATOR_HOST_ENV
from tests.ui.conftest import WAIT_MS, OpenWindow, run_in_fresh_loop, trigger


def storage_dialog(window: MainWindow) -> StoragePage:
    dialog = window.findChild(StoragePage, "storageDialog")
    assert dialog is not None
    return dialog


def open_storage_dialog(qtbot: Any, window: MainWindow) -> StoragePage:
    """Settings → Storage…, once the run's sync is known to the window."""
    qtbot.waitUntil(lambda: window.storage_actions._sync is not None, timeout=WAIT_MS)
    trigger(window, "storageAction")
    return storage_dialog(window)


@pytest.fixture
def local_dialog(qtbot: Any, open_window: OpenWindow) -> tuple[MainWindow, StoragePage]:
    """A local run's window and its Storage dialog, open."""
    window = open_window()
    return window, open_storage_dialog(qtbot, window)


def sync_line(window: MainWindow) -> QLabel:
    label = window.findChild(QLabel, "syncStatusLabel")
    assert label is not None
    return label


def cloud_environ(project: str) -> dict[str, str]:
    import os

    return {
        "GPTLAB_STORAGE": "firestore",
        "GPTLAB_FIRESTORE_PROJECT": project,
        EMULATOR_HOST_ENV: os.environ[EMULATOR_HOST_ENV],
    }


def test_a_local_run_says_nothing_of_sync_and_its_storage_dialog_says_local_only(
    qtbot: Any, open_window: OpenWindow
) -> None:
    window = open_window()
    qtbot.waitUntil(lambda: window.storage_actions._sync is not None, timeout=WAIT_MS)

    assert not sync_line(window).isVisible()
    trigger(window, "storageAction")
    dialog = storage_dialog(window)
    assert dialog.findChild(QRadioButton, "storageLocal").isChecked()
    assert dialog.findChild(QRadioButton, "storageLocal").text() == "Local only"
    assert dialog.findChild(QRadioButton, "storageFirestore").text() == "My Firestore project"
    assert not dialog.findChild(QLineEdit, "firestoreProject").isEnabled()
    assert not dialog.findChild(QPushButton, "syncNowButton").isEnabled()


def test_choosing_firestore_without_a_project_asks_for_it_and_changes_nothing(
    local_dialog: tuple[MainWindow, StoragePage], data_dir: Path
) -> None:
    _, dialog = local_dialog

    dialog.findChild(QRadioButton, "storageFirestore").setChecked(True)
    assert dialog.apply() is None

    assert "project id" in dialog.feedback.text()
    assert not (data_dir / "storage.json").exists()


@pytest.mark.firestore
def test_a_run_on_a_firestore_project_syncs_shows_the_kit_once_and_what_others_wrote(
    qtbot: Any, open_window: OpenWindow, emulator_project: str, data_dir: Path, tmp_path: Path
) -> None:
    window = open_window(environ=cloud_environ(emulator_project))

    # Encryption is set up on this first computer: the kit is shown, once, to be kept.
    qtbot.waitUntil(
        lambda: window.findChild(StoragePage, "storageDialog") is not None, timeout=WAIT_MS
    )
    dialog = storage_dialog(window)
    kit_text = dialog.findChild(QPlainTextEdit, "recoveryKitText").toPlainText()
    assert "Secret key:" in kit_text
    qtbot.waitUntil(lambda: sync_line(window).text() == "Synced", timeout=WAIT_MS)
    assert dialog.findChild(QRadioButton, "storageFirestore").isChecked()
    assert dialog.findChild(QLineEdit, "firestoreProject").text() == emulator_project
    user_id = window.current_user.id if window.current_user else ""

    # Another computer of the same account writes a session; "Sync now" brings it here.
    session_id = run_in_fresh_loop(
        lambda: write_elsewhere(tmp_path, emulator_project, window, user_id)
    )
    qtbot.mouseClick(dialog.findChild(QPushButton, "syncNowButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: session_id in listed_sessions(window), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "arrived" in dialog.feedback.text(), timeout=WAIT_MS)


def listed_sessions(window: MainWindow) -> set[str]:
    from gptlab_desktop.ui.sessions.roles import SessionRole

    model = window.session_panel.list_view.model()
    return {
        str(model.index(row, 0).data(SessionRole.SESSION_ID)) for row in range(model.rowCount())
    }


async def write_elsewhere(folder: Path, project: str, window: MainWindow, user_id: str) -> str:
    """A session written by another computer that joined the same account (its data key)."""
    key = await window_vault_key(window)
    store = SyncedStore(folder / "elsewhere" / DB_NAME)
    (folder / "elsewhere").mkdir()
    await store.open()
    try:
        await store.adopt_local_user(user_id)
        await store.journal_for(f"firestore:{project}/(default)")
        cipher = RecordCipher(key, user_id)
        cloud = FirestoreStore(FirestoreSettings(project_id=project), cipher)
        await cloud.open()
        try:
            me = await store.local_user()
            session = await start_session(store, me, None)
            await store.add_messages([make_message(session.id, f"from the laptop {new_id()}")])

            async def the_cipher() -> RecordCipher:
                return cipher

            async def no_key() -> None:
                return None

            await OutboxReplayer(store, cloud, the_cipher, no_key, gather_s=0).replay_ready()
            return session.id
        finally:
            await cloud.close()
    finally:
        await store.close()


async def window_vault_key(window: MainWindow) -> Any:
    # The other computer joined with the kit: it holds the same data key. Taken from this run's
    # vault, which is unlocked by now (a test's shortcut for "joined elsewhere").
    sync = window.storage_actions._sync
    assert sync is not None
    return sync._vault._data_key


def test_the_storage_choice_is_saved_for_the_next_run(
    qtbot: Any, local_dialog: tuple[MainWindow, StoragePage], data_dir: Path
) -> None:
    window, dialog = local_dialog
    dialog.findChild(QRadioButton, "storageFirestore").setChecked(True)
    dialog.findChild(QLineEdit, "firestoreProject").setText("my-project")
    dialog.findChild(QLineEdit, "firestoreDatabase").setText("chats")
    # A key not imported yet: the sync says so at once (and no network is tried here).
    dialog.findChild(QRadioButton, "credentialsServiceAccount").setChecked(True)

    task = dialog.apply()
    assert isinstance(task, asyncio.Task)
    qtbot.waitUntil(task.done, timeout=WAIT_MS)

    saved = read_storage_settings(data_dir / "storage.json")
    assert (saved.mode, saved.project_id, saved.database_id) == (
        StorageMode.FIRESTORE,
        "my-project",
        "chats",
    )
    qtbot.waitUntil(lambda: "service account" in sync_line(window).text(), timeout=WAIT_MS)


def fill_shared_project(dialog: StoragePage, project: str) -> None:
    dialog.findChild(QRadioButton, "storageShared").setChecked(True)
    dialog.findChild(QLineEdit, "firestoreProject").setText(project)
    dialog.findChild(QLineEdit, "firebaseApiKey").setText("team-web-api-key")


def test_the_shared_project_asks_for_its_web_api_key_and_shows_the_sign_in(
    local_dialog: tuple[MainWindow, StoragePage], data_dir: Path
) -> None:
    _, dialog = local_dialog
    shared = dialog.findChild(QRadioButton, "storageShared")
    assert shared.text() == "Shared project (sign in)"
    assert not dialog.sign_in_box.isVisibleTo(dialog)

    shared.setChecked(True)
    dialog.findChild(QLineEdit, "firestoreProject").setText("demo-team")

    assert dialog.sign_in_box.isVisibleTo(dialog)
    assert dialog.apply() is None
    assert "Web API key" in dialog.feedback.text()
    assert not (data_dir / "storage.json").exists()


@pytest.mark.auth_emulator
def test_signing_up_to_a_shared_project_reopens_the_window_on_the_account(
    qtbot: Any, open_window: OpenWindow, auth_emulator: Any, data_dir: Path
) -> None:
    from tests.fakes.auth_emulator import unique_email

    window = open_window(environ={"FIREBASE_AUTH_EMULATOR_HOST": auth_emulator.host})
    dialog = open_storage_dialog(qtbot, window)
    fill_shared_project(dialog, auth_emulator.project_id)
    box = dialog.sign_in_box
    email = unique_email("ada")
    box.email.setText(email)
    box.password.setText("short")  # refused first, in words, and nothing saved
    qtbot.mouseClick(box.sign_up_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "too weak" in dialog.feedback.text(), timeout=WAIT_MS)
    assert not (data_dir / "storage.json").exists()

    box.password.setText("correct horse battery")
    box.display_name.setText("Ada")
    qtbot.mouseClick(box.sign_up_button, Qt.MouseButton.LeftButton)

    # Saved with the account, and the window closes to reopen on the account's own data.
    qtbot.waitUntil(lambda: window.is_shut_down, timeout=WAIT_MS)
    assert window.reopen_requested
    saved = read_storage_settings(data_dir / "storage.json")
    assert saved.mode is StorageMode.SHARED and saved.account is not None
    assert (saved.account.email, saved.account.display_name) == (email, "Ada")
    assert box.password.text() == ""
