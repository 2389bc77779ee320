"""No secret on disk: a whole chat session leaves the API key nowhere in the data directory.

One run through the real services, composed as the app composes them: the key is checked and
saved by ``Account`` (into a real Secret Service, which keeps its files outside the data
directory), the session is stored by ``SqliteStore``, spoken by ``LlmClient`` to a loopback
server that accepts only that key, and run by ``SessionEngine``, with the app's own log file
configured by ``app.configure_logging``. Then every byte of every file in the data directory —
database, WAL, log, cache — is searched for the key in every usual encoding, and for the
user's data key. The cloud documents of the session are built too, and must not show what was
said.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import secrets
import string
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from keyring.backends import SecretService

from gptlab_desktop.app import configure_logging
from gptlab_desktop.models import AssistantDraft, ModelConfig, Role, UserLiked
from gptlab_desktop.paths import AppPaths, ensure_created
from gptlab_desktop.services.account import Account
from gptlab_desktop.services.chat import SessionEngine
from gptlab_desktop.services.chat_events import ChatEvent
from gptlab_desktop.services.errors import InvalidApiKey
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.llm_api import LlmSettings
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.services.secrets import SecretStore
from gptlab_desktop.services.store.cloud import documents as cloud_documents
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.tokens import TokenCounter
from gptlab_desktop.services.vault import Vault
from tests.fakes.keyring_daemon import SecretServiceDaemon
from tests.fakes.openai_server import FakeOpenAIServer, Reply

# A fresh key each run, long and random: it can only be found where this run put it.
API_KEY = "sk-test-" + "".join(
    secrets.choice(string.ascii_letters + string.digits) for _ in range(40)
)
USER_MESSAGES = [
    "My tortoise Philomena escaped through the hedge on Tuesday",
    "She likes dandelions and the warm patch by the greenhouse",
    "The neighbour at number 17 saw her near the compost",
    "Should I put a flat stone by the gap in the hedge",
    "Thank you, I will try lettuce as bait tonight",
]
DISTINCTIVE_WORDS = ("Philomena", "tortoise", "dandelions", "greenhouse", "compost", "lettuce")
RECAP = "Recap: Philomena the tortoise is probably near the compost at number 17."


# -- looking for a secret in bytes ---------------------------------------------------------------


def encoded_forms(secret: bytes) -> list[bytes]:
    """``secret`` as it could appear in a file: raw, UTF-16, hex, and base64 at every alignment.

    Base64 of a longer text containing the secret depends on where the secret starts modulo
    3; for each alignment the characters fully determined by the secret alone are searched.
    """
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode()]
    with contextlib.suppress(UnicodeDecodeError):  # binary (a data key) has no text form
        forms.append(secret.decode().encode("utf-16-le"))
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + secret)
            # Drop the characters that also encode the padding bytes or the unknown tail.
            forms.append(encoded[4 if shift else 0 : -4])
    return forms


def files_containing(directory: Path, secret: bytes) -> list[str]:
    """Every file under ``directory`` holding ``secret`` in any of its encoded forms."""
    forms = encoded_forms(secret)
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name} ({form[:12]!r}…)" for form in forms if form in data]
    return found


def test_the_search_finds_a_secret_written_in_any_usual_form(tmp_path: Path) -> None:
    secret = API_KEY.encode()
    for index, form in enumerate(
        [
            secret,
            API_KEY.encode("utf-16-le"),
            secret.hex().encode(),
            base64.b64encode(b"x" + secret),
            base64.urlsafe_b64encode(b"key=" + secret + b";"),
        ]
    ):
        (tmp_path / f"file{index}").write_bytes(b"before " + form + b" after")

    assert len({name.split(" ")[0] for name in files_containing(tmp_path, secret)}) == 5


# -- the run -----------------------------------------------------------------------------------


@pytest.fixture
def paths(data_dir: Path) -> Iterator[AppPaths]:
    """The app's data directory, logging to its real log file as the app does."""
    paths = AppPaths(data_dir)
    ensure_created(paths)
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(paths)
    try:
        yield paths
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(level)


@pytest.fixture
def server(openai_server: FakeOpenAIServer) -> FakeOpenAIServer:
    openai_server.api_key = API_KEY
    return openai_server


@pytest_asyncio.fixture
async def store(paths: AppPaths) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(paths.database_file)
    assert (await store.open()).is_usable
    yield store
    await store.close()


async def drain(events: AsyncIterator[ChatEvent]) -> None:
    async for _event in events:
        pass


@pytest_asyncio.fixture
async def finished_run(
    paths: AppPaths,
    server: FakeOpenAIServer,
    store: SqliteStore,
    secret_service: SecretServiceDaemon,
    tiktoken_cache_dir: Path,
) -> AsyncIterator[tuple[Account, Vault, str]]:
    """A whole session: a mistyped key refused, the right one saved, a chat, a recap, a rating.

    Yields the account, the vault and the session id, with the store still open; the log is
    flushed.
    """
    secrets = SecretStore(SecretService.Keyring())
    account = Account(secrets, store)
    vault = Vault(secrets, store)
    await account.load()
    with pytest.raises(InvalidApiKey):
        await account.verify_and_save(API_KEY[:-1] + "#", server.base_url)
    await account.verify_and_save(API_KEY, server.base_url)
    assert account.api_key is not None
    user = await account.current_user()
    await vault.data_key()

    llm = OpenAIClient(LlmSettings(base_url=server.base_url, api_key=account.api_key.value))
    engine = SessionEngine(store, Providers.of_client(llm), TokenCounter(tiktoken_cache_dir))
    draft = AssistantDraft(
        name="Garden helper",
        tag_line="Finds lost pets",
        description="Helps with garden trouble.",
        initial_prompt="You help people find lost garden animals.",
        summary_prompt="Summarise the search plan.",
        model_config=ModelConfig("gpt-4o-mini"),
    )
    assistant = await store.create_assistant(draft, user.id)
    session = await engine.start_session(assistant.id, user.id)
    try:
        await drain(engine.greet(session.id))
        for text in USER_MESSAGES:
            await drain(engine.send(session.id, text))
        server.script(Reply(text=RECAP))
        await drain(engine.conclude(session.id))
        await engine.finish(session.id, UserLiked.LIKED)
    finally:
        await llm.aclose()
    for handler in logging.getLogger().handlers:
        handler.flush()
    yield account, vault, session.id


@pytest.mark.asyncio
@pytest.mark.keyring_daemon
async def test_the_api_key_is_nowhere_in_the_data_directory(
    finished_run: tuple[Account, Vault, str],
    paths: AppPaths,
    secret_service: SecretServiceDaemon,
    store: SqliteStore,
) -> None:
    await store.close()  # everything written and checkpointed, as after quitting the app

    found = files_containing(paths.data_dir, API_KEY.encode())

    assert found == []
    # The key was used and kept: in the keyring, which is not a file of ours.
    assert API_KEY in secret_service.stored_secrets()


@pytest.mark.asyncio
@pytest.mark.keyring_daemon
async def test_the_run_really_wrote_the_files_that_were_searched(
    finished_run: tuple[Account, Vault, str], paths: AppPaths, store: SqliteStore
) -> None:
    await store.close()

    log = paths.log_file.read_text(encoding="utf-8")
    assert "The server accepted the API key" in log
    assert "HTTP 401" in log  # the refused attempt was logged, without the key
    assert USER_MESSAGES[0].encode() in paths.database_file.read_bytes() + _wal(paths)


@pytest.mark.asyncio
@pytest.mark.keyring_daemon
async def test_the_data_key_is_nowhere_in_the_data_directory(
    finished_run: tuple[Account, Vault, str], paths: AppPaths, store: SqliteStore
) -> None:
    _account, vault, _session_id = finished_run
    data_key = await vault.data_key()
    kit = await vault.recovery_kit()
    await store.close()

    # The raw bytes, read from inside the key object: only the wrapped form may be stored.
    assert files_containing(paths.data_dir, data_key._key) == []
    # Nor the sync secret's key: it lives in the keyring (and in the kit the user keeps).
    assert files_containing(paths.data_dir, kit.secret_key) == []
    assert files_containing(paths.data_dir, kit.code.encode()) == []


@pytest.mark.asyncio
@pytest.mark.keyring_daemon
async def test_the_cloud_documents_of_the_session_hold_no_message_text(
    finished_run: tuple[Account, Vault, str], store: SqliteStore
) -> None:
    account, vault, session_id = finished_run
    user = await account.current_user()
    cipher = cloud_documents.RecordCipher(await vault.data_key(), user.id)
    session = await store.get_session(session_id)
    messages = await store.list_messages(session_id)
    assert session is not None and session.context and len(messages) > len(USER_MESSAGES)
    assert user.user_hash is not None  # recorded: the key in use is OpenAI's kind

    documents = [
        cloud_documents.session_document(session, cipher),
        cloud_documents.user_document(user, await vault.wrapped_data_key()),
        cloud_documents.user_hash_document(user.user_hash, user.created_date),
        *(cloud_documents.message_document(message, cipher) for message in messages),
    ]
    uploaded = "\n".join(document.path + document.to_json() for document in documents)

    said = [m.message for m in messages if m.role is not Role.SYSTEM]
    said += [entry.message for entry in session.context] + [session.recap]
    assert RECAP in said
    for text in said:
        assert text not in uploaded
    for word in DISTINCTIVE_WORDS:
        assert word not in uploaded  # not even a word of what was said
    assert API_KEY not in uploaded


def _wal(paths: AppPaths) -> bytes:
    wal = paths.database_file.with_name(paths.database_file.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""
