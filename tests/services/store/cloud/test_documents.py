"""The cloud documents: GPT Lab's layout, no plaintext conversation in them, and read back whole."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gptlab_desktop.models import (
    Assistant,
    ContextMessage,
    FailureKind,
    Message,
    MessageDetails,
    MessageState,
    ModelConfig,
    ModelConfigVersion,
    Prompt,
    PromptType,
    Role,
    Session,
    SessionStatus,
    SessionType,
    User,
    UserLiked,
)
from gptlab_desktop.services.crypto import DataKey, SyncSecret, create_data_key
from gptlab_desktop.services.errors import DecryptionFailed
from gptlab_desktop.services.store.cloud import documents
from gptlab_desktop.services.store.cloud.documents import (
    CloudDocument,
    RecordCipher,
    bot_document,
    bot_from_document,
    message_document,
    message_from_document,
    model_config_document,
    model_config_from_document,
    prompt_document,
    prompt_from_document,
    session_document,
    session_from_document,
    user_document,
    user_from_document,
    user_hash_document,
    user_hash_from_document,
    wrapped_key_from_document,
)
from tests.services.store.cloud.layout import SESSION_FIELDS

WHEN = datetime(2026, 3, 4, 5, 6, 7, 890_000, tzinfo=UTC)
USER_ID = "U" * 20
OTHER_USER_ID = "V" * 20
# Distinctive words, so finding them anywhere in a document means plaintext leaked.
USER_WORDS = "My neighbour Zebulon owes me 4711 euros"
REPLY_WORDS = "Ask Zebulon politely about the quokka loan"
RECAP_WORDS = "Recap: the quokka loan to Zebulon"
TITLE_WORDS = "Zebulon and the quokka money"
SECRET_WORDS = ("Zebulon", "quokka", "4711")


@pytest.fixture
def cipher() -> RecordCipher:
    return RecordCipher(DataKey.generate(), USER_ID)


def a_session(**changes: object) -> Session:
    session = Session(
        id="S" * 20,
        user_id=USER_ID,
        bot_id="B" * 20,
        bot_initial_prompt_msg="You are a careful financial coach.",
        bot_model_config=ModelConfig("gpt-4o-mini", max_tokens=300, temperature=0.5),
        bot_session_type=SessionType.COACHING,
        bot_summary_prompt_msg="Summarise the advice.",
        created_date=WHEN,
        last_modified_date=WHEN + timedelta(minutes=5),
        bot_initial_prompt_id="P" * 20,
        bot_summary_prompt_id="Q" * 20,
        guards_prompt_leak=True,
        title=TITLE_WORDS,
        status=SessionStatus.COMPLETED,
        message_count=2,
        context=(
            ContextMessage(Role.USER, USER_WORDS, WHEN),
            ContextMessage(Role.ASSISTANT, REPLY_WORDS, WHEN + timedelta(seconds=3)),
        ),
        user_liked=UserLiked.LIKED,
        recap=RECAP_WORDS,
    )
    return session.with_changes(**changes)


def a_message(**changes: object) -> Message:
    message = Message(
        id="M" * 20,
        session_id="S" * 20,
        role=Role.ASSISTANT,
        message=REPLY_WORDS,
        created_date=WHEN,
        state=MessageState.INTERRUPTED,
        meta=MessageDetails(model="gpt-4o-mini", failure=FailureKind.CONNECTION_LOST),
    )
    return replace(message, **changes)  # type: ignore[arg-type]


def as_json(document: CloudDocument) -> str:
    return document.path + document.to_json()


# -- what the cloud sees -----------------------------------------------------------------------


def test_a_session_document_holds_no_plaintext_of_the_conversation(cipher: RecordCipher) -> None:
    text = as_json(session_document(a_session(), cipher))

    for word in SECRET_WORDS:
        assert word not in text


def test_a_message_document_holds_no_plaintext_body_or_details(cipher: RecordCipher) -> None:
    text = as_json(message_document(a_message(), cipher))

    for word in SECRET_WORDS:
        assert word not in text


def test_a_session_document_has_gpt_labs_fields_at_its_path(cipher: RecordCipher) -> None:
    document = session_document(a_session(), cipher)

    assert document.path == f"sessions/{'S' * 20}"
    assert set(document.data) >= SESSION_FIELDS
    assert document.data["bot_session_type"] == 3
    assert document.data["status"] == 1
    assert document.data["user_liked"] == 1


def test_a_message_document_lives_under_its_session(cipher: RecordCipher) -> None:
    document = message_document(a_message(), cipher)

    assert document.path == f"sessions/{'S' * 20}/messages/{'M' * 20}"
    assert document.data["role"] == "assistant"
    assert isinstance(document.data["created_date"], datetime)


def test_the_encrypted_fields_are_v1_tokens(cipher: RecordCipher) -> None:
    session = session_document(a_session(), cipher).data
    message = message_document(a_message(), cipher).data

    sealed = [session[name] for name in documents.ENCRYPTED_SESSION_FIELDS]
    sealed += [message[name] for name in documents.ENCRYPTED_MESSAGE_FIELDS]
    assert all(value.startswith("v1.") for value in sealed)


def test_prompts_stay_plain_as_in_gpt_lab() -> None:
    prompt = Prompt("P" * 20, "B" * 20, PromptType.INITIAL, "You are a careful coach.", WHEN)

    document = prompt_document(prompt)

    assert document.path == f"bots/{'B' * 20}/prompts/{'P' * 20}"
    assert document.data["message"] == "You are a careful coach."


def test_a_session_cannot_be_encrypted_with_another_users_key() -> None:
    with pytest.raises(ValueError):
        session_document(a_session(), RecordCipher(DataKey.generate(), OTHER_USER_ID))


def test_the_cipher_repr_hides_the_key(cipher: RecordCipher) -> None:
    assert "hidden" in repr(cipher)
    assert repr(cipher.data_key) == "DataKey(<hidden>)"


# -- reading back ------------------------------------------------------------------------------


def test_a_session_reads_back_equal(cipher: RecordCipher) -> None:
    session = a_session()

    assert session_from_document(session_document(session, cipher), cipher) == session


def test_a_sessions_provider_and_model_change_travel(cipher: RecordCipher) -> None:
    session = a_session().with_changes(provider_id="ollama-at-home")
    document = session_document(session, cipher)
    assert document.data["provider_id"] == "ollama-at-home"
    assert session_from_document(document, cipher) == session

    config = ModelConfig(model="llama3.2", temperature=1.2)
    changes = documents.session_changes(
        session.id,
        cipher,
        created_date=session.created_date,
        last_modified_date=session.created_date,
        model=(config, "two"),
    )
    assert changes.data["provider_id"] == "two"
    assert changes.data["bot_model_config"] == config.to_dict()
    # A session stored before the field existed reads with none.
    older = {key: value for key, value in document.data.items() if key != "provider_id"}
    assert session_from_document(replace(document, data=older), cipher).provider_id is None


def test_a_sessions_pin_travels_and_a_pin_alone_is_no_activity(cipher: RecordCipher) -> None:
    session = a_session().with_changes(is_pinned=True)
    document = session_document(session, cipher)
    assert document.data["is_pinned"] is True
    assert session_from_document(document, cipher) == session

    changes = documents.session_changes(
        session.id,
        cipher,
        created_date=session.created_date,
        last_modified_date=None,
        is_pinned=False,
    )
    # Only the pin: the last modified date (the chat's place by date) is left as it was.
    assert changes.data == {"is_pinned": False}
    # A session stored before the field existed (GPT Lab's, or an older release's) is unpinned.
    older = {key: value for key, value in document.data.items() if key != "is_pinned"}
    assert session_from_document(replace(document, data=older), cipher).is_pinned is False


def test_a_session_reads_back_equal_through_json(cipher: RecordCipher) -> None:
    session = a_session()
    document = session_document(session, cipher)

    stored = CloudDocument.from_json(document.path, document.to_json())

    assert session_from_document(stored, cipher) == session


def test_a_message_reads_back_equal_with_its_details(cipher: RecordCipher) -> None:
    message = a_message()

    read = message_from_document(message_document(message, cipher), cipher)

    assert read == message
    assert read.meta == message.meta


def test_a_user_reads_back_equal_with_the_wrapped_data_key() -> None:
    user = User(
        USER_ID, "ab" * 32, WHEN, WHEN, sessions_started=3, sessions_ended=2, bots_created=1
    )
    _key, wrapped = create_data_key(SyncSecret.generate(), user_id=USER_ID)

    document = user_document(user, wrapped)

    assert document.path == f"users/{USER_ID}"
    assert user_from_document(document) == user
    assert wrapped_key_from_document(document) == wrapped


def test_a_user_without_a_user_hash_reads_back_without_one() -> None:
    user = User(USER_ID, None, WHEN, WHEN)

    document = user_document(user)

    assert document.data["user_hash"] is None
    assert user_from_document(document) == user


def test_a_user_hash_record_reads_back() -> None:
    document = user_hash_document("ab" * 32, WHEN)

    record = user_hash_from_document(document)

    assert document.data["user_hash_type"] == "open_ai_key"
    assert (record.user_hash, record.created_date) == ("ab" * 32, WHEN)


def test_an_assistant_reads_back_equal() -> None:
    assistant = Assistant(
        id="B" * 20,
        name="Coach",
        tag_line="Plans with you",
        description="A careful coach.",
        session_type=SessionType.COACHING,
        creator_user_id=USER_ID,
        created_date=WHEN,
        last_modified_date=WHEN,
        active_initial_prompt_id="P" * 20,
        active_model_config_id="C" * 20,
        active_summary_prompt_id="Q" * 20,
        sessions_started=4,
    )

    assert bot_from_document(bot_document(assistant)) == assistant


def test_a_prompt_and_a_model_config_read_back_equal() -> None:
    prompt = Prompt("P" * 20, "B" * 20, PromptType.SUMMARY, "Summarise.", WHEN, is_active=False)
    config = ModelConfigVersion("C" * 20, "B" * 20, ModelConfig("gpt-4o", temperature=1.0), WHEN)

    assert prompt_from_document(prompt_document(prompt)) == prompt
    assert model_config_from_document(model_config_document(config)) == config


def test_a_gpt_lab_document_without_our_additions_still_reads(cipher: RecordCipher) -> None:
    # GPT Lab's messages were complete: a body without a state reads as complete (and one
    # sealed as interrupted, its state removed, would not read: see the tampering tests).
    document = message_document(a_message(state=MessageState.COMPLETE), cipher)
    data = {key: value for key, value in document.data.items() if key not in {"state", "meta"}}

    message = message_from_document(CloudDocument(document.path, data), cipher)

    assert message.state is MessageState.COMPLETE
    assert message.meta == MessageDetails()


# -- tampering ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(
            {"state": MessageState.COMPLETE.value}, id="an-interrupted-reply-passed-as-complete"
        ),
        pytest.param({"role": Role.USER.value}, id="a-reply-passed-as-the-users"),
        pytest.param({"created_date": WHEN.replace(year=2020)}, id="a-reply-moved-in-time"),
    ],
)
def test_a_message_whose_plain_fields_were_edited_fails_to_decrypt(
    cipher: RecordCipher, edit: dict[str, object]
) -> None:
    document = message_document(a_message(), cipher)  # an interrupted assistant reply
    edited = CloudDocument(document.path, {**document.data, **edit})

    with pytest.raises(DecryptionFailed):
        message_from_document(edited, cipher)


def test_a_session_moved_in_time_fails_to_decrypt(cipher: RecordCipher) -> None:
    document = session_document(a_session(), cipher)
    edited = CloudDocument(
        document.path, {**document.data, "created_date": WHEN.replace(year=2020)}
    )

    with pytest.raises(DecryptionFailed):
        session_from_document(edited, cipher)


def test_a_damaged_message_body_fails_to_decrypt(cipher: RecordCipher) -> None:
    document = message_document(a_message(), cipher)
    token = document.data["message"]
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    damaged = CloudDocument(document.path, {**document.data, "message": flipped})

    with pytest.raises(DecryptionFailed):
        message_from_document(damaged, cipher)


def test_a_message_body_moved_to_another_message_fails_to_decrypt(cipher: RecordCipher) -> None:
    first = message_document(a_message(), cipher)
    second = message_document(a_message(id="N" * 20, message="Fine, thanks"), cipher)
    swapped = CloudDocument(second.path, {**second.data, "message": first.data["message"]})

    with pytest.raises(DecryptionFailed):
        message_from_document(swapped, cipher)


def test_a_message_moved_to_another_session_fails_to_decrypt(cipher: RecordCipher) -> None:
    document = message_document(a_message(), cipher)
    moved = CloudDocument(f"sessions/{'T' * 20}/messages/{'M' * 20}", document.data)

    with pytest.raises(DecryptionFailed):
        message_from_document(moved, cipher)


def test_another_users_key_cannot_read_a_message(cipher: RecordCipher) -> None:
    document = message_document(a_message(), cipher)
    # Even with the same data key: the user id is part of what each token is bound to.
    other = RecordCipher(cipher.data_key, OTHER_USER_ID)

    with pytest.raises(DecryptionFailed):
        message_from_document(document, other)


def test_a_context_moved_to_another_session_fails_to_decrypt(cipher: RecordCipher) -> None:
    first = session_document(a_session(), cipher)
    second = session_document(a_session(id="T" * 20), cipher)
    swapped = CloudDocument(
        second.path, {**second.data, "messages_str": first.data["messages_str"]}
    )

    with pytest.raises(DecryptionFailed):
        session_from_document(swapped, cipher)


def test_a_session_of_another_user_is_refused(cipher: RecordCipher) -> None:
    document = session_document(a_session(), cipher)
    claimed = CloudDocument(document.path, {**document.data, "user_id": OTHER_USER_ID})

    with pytest.raises(DecryptionFailed):
        session_from_document(claimed, cipher)


def test_a_document_missing_a_field_is_reported_as_unreadable(cipher: RecordCipher) -> None:
    document = message_document(a_message(), cipher)
    data = {key: value for key, value in document.data.items() if key != "role"}

    with pytest.raises(DecryptionFailed, match="incomplete or damaged"):
        message_from_document(CloudDocument(document.path, data), cipher)


def test_a_document_at_the_wrong_path_is_refused(cipher: RecordCipher) -> None:
    document = message_document(a_message(), cipher)

    with pytest.raises(ValueError):
        message_from_document(CloudDocument(f"users/{USER_ID}", document.data), cipher)


def test_ids_with_a_slash_are_refused() -> None:
    with pytest.raises(ValueError):
        documents.session_path("a/b")


def test_the_json_form_is_valid_json_with_iso_dates(cipher: RecordCipher) -> None:
    data = json.loads(message_document(a_message(), cipher).to_json())

    assert data["created_date"] == WHEN.isoformat()


# -- partial changes, tombstones, markers --------------------------------------------------------


def test_session_changes_seal_only_what_changes(cipher: RecordCipher) -> None:
    context = (ContextMessage(Role.USER, USER_WORDS, WHEN),)

    changes = documents.session_changes(
        "S" * 20,
        cipher,
        created_date=WHEN,
        last_modified_date=WHEN,
        context=context,
        title=TITLE_WORDS,
    )

    assert set(changes.data) == {"last_modified_date", "messages_str", "title"}
    assert all(word not in as_json(changes) for word in SECRET_WORDS)
    whole = session_document(a_session(context=context, title=TITLE_WORDS), cipher)
    merged = CloudDocument(whole.path, {**whole.data, **changes.data})
    read = session_from_document(merged, cipher)
    assert read.context == context and read.title == TITLE_WORDS


def test_message_changes_read_back_as_the_new_text(cipher: RecordCipher) -> None:
    message = a_message()
    changes = documents.message_changes(
        message.session_id,
        message.id,
        cipher,
        role=message.role,
        created_date=message.created_date,
        text=RECAP_WORDS,
        state=MessageState.COMPLETE,
        meta=None,
        last_modified_date=WHEN,
    )
    whole = message_document(message, cipher)

    read = message_from_document(CloudDocument(whole.path, {**whole.data, **changes.data}), cipher)

    assert read.message == RECAP_WORDS and read.state is MessageState.COMPLETE
    assert read.meta == message.meta
    assert "meta" not in changes.data


def test_without_counters_leaves_the_counters_to_increments() -> None:
    user = User("U" * 20, None, WHEN, WHEN, sessions_started=4, bots_created=2)

    data = documents.without_counters(user_document(user)).data

    assert "sessions_started" not in data and "bots_created" not in data
    assert data["created_date"] == WHEN


def test_a_tombstone_names_the_deleted_document_and_has_a_stable_id() -> None:
    deleted = documents.session_path("S" * 20)

    tombstone = documents.tombstone_document(USER_ID, deleted, WHEN)

    assert tombstone.path.startswith(f"users/{USER_ID}/tombstones/")
    assert tombstone.path == documents.tombstone_document(USER_ID, deleted, WHEN).path
    read = documents.tombstone_from_document(tombstone)
    assert (read.path, read.collection, read.deleted_date) == (deleted, "sessions", WHEN)


def test_a_marker_lives_under_its_user() -> None:
    marker = documents.applied_write_document(USER_ID, "outbox-17", WHEN)

    assert marker.path == f"users/{USER_ID}/applied_writes/outbox-17"


def test_showcase_ids_follow_the_key_and_each_versions_content() -> None:
    from tests.builders import make_draft

    ids = documents.showcase_ids("socrates", make_draft())
    edited = documents.showcase_ids("socrates", make_draft(summary_prompt="Sum it up."))

    assert ids == documents.showcase_ids("socrates", make_draft())
    assert len(set(ids)) == 4
    assert edited[0] == ids[0] and edited[1] == ids[1] and edited[3] == ids[3]
    assert edited[2] != ids[2]
    assert documents.showcase_ids("plato", make_draft())[0] != ids[0]
