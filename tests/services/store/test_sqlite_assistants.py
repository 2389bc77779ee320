"""The SQLite store's assistants: versions, rollback, archiving, the showcase.

Every test uses a real SQLite file in its own data directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gptlab_desktop.models import (
    ModelConfig,
    PromptType,
    SessionType,
    User,
)
from gptlab_desktop.services.errors import NotFound, ReadOnlyAssistant, StoreError
from gptlab_desktop.services.store.base import ShowcaseEntry, showcase_bot_id
from gptlab_desktop.services.store.sqlite import SqliteStore
from tests.builders import DB_NAME, count_rows, make_draft, raw, start_session

# -- assistants -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_created_assistant_round_trips_with_its_first_versions(
    store: SqliteStore, user: User
) -> None:
    draft = make_draft(guards_prompt_leak=True)
    assistant = await store.create_assistant(draft, user.id)

    details = await store.get_assistant_details(assistant.id)
    assert details is not None
    assert details.to_draft() == draft
    assert details.assistant == assistant == await store.get_assistant(assistant.id)
    assert assistant.creator_user_id == user.id
    assert not assistant.showcased and assistant.is_active
    assert details.initial_prompt.message_type is PromptType.INITIAL
    assert details.summary_prompt.message_type is PromptType.SUMMARY
    assert details.initial_prompt.is_active and details.model_config.is_active
    assert assistant.session_type is SessionType.COACHING


@pytest.mark.asyncio
async def test_unknown_assistant_reads_as_none(store: SqliteStore) -> None:
    assert await store.get_assistant("missing") is None
    assert await store.get_assistant_details("missing") is None


@pytest.mark.asyncio
async def test_creating_an_assistant_counts_bots_created(store: SqliteStore, user: User) -> None:
    await store.create_assistant(make_draft(), user.id)
    await store.create_assistant(make_draft(name="Second"), user.id)

    refreshed = await store.get_user(user.id)
    assert refreshed is not None and refreshed.bots_created == 2


@pytest.mark.asyncio
async def test_creating_an_assistant_for_an_unknown_user_leaves_nothing(
    store: SqliteStore, data_dir: Path
) -> None:
    with pytest.raises(NotFound):
        await store.create_assistant(make_draft(), "nobody")

    assert count_rows(data_dir, "bots") == 0
    assert count_rows(data_dir, "prompts") == 0


@pytest.mark.asyncio
async def test_creating_an_assistant_is_one_transaction(
    store: SqliteStore, user: User, data_dir: Path
) -> None:
    # Make the summary prompt's insert (after the bot and the initial prompt) fail.
    with raw(data_dir) as conn:
        conn.execute(
            "CREATE TRIGGER fail_summary BEFORE INSERT ON prompts "
            "WHEN new.message_type = 'summary' BEGIN SELECT RAISE(ABORT, 'injected'); END"
        )

    with pytest.raises(StoreError):
        await store.create_assistant(make_draft(), user.id)

    for table in ("bots", "prompts", "model_configs"):
        assert count_rows(data_dir, table) == 0, table
    refreshed = await store.get_user(user.id)
    assert refreshed is not None and refreshed.bots_created == 0


@pytest.mark.asyncio
async def test_a_changed_prompt_becomes_a_new_active_version(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)

    updated = await store.update_assistant(
        assistant.id, make_draft(initial_prompt="You are Socrates, and brief.")
    )

    versions = await store.list_prompts(assistant.id, PromptType.INITIAL)
    assert [p.message for p in versions] == [
        "You are Socrates, and brief.",
        make_draft().initial_prompt,
    ]
    assert [p.is_active for p in versions] == [True, False]
    assert updated.active_initial_prompt_id == versions[0].id
    assert updated.active_summary_prompt_id == assistant.active_summary_prompt_id
    assert updated.active_model_config_id == assistant.active_model_config_id
    assert len(await store.list_prompts(assistant.id, PromptType.SUMMARY)) == 1
    assert updated.last_modified_date > assistant.last_modified_date


@pytest.mark.asyncio
async def test_a_changed_summary_prompt_becomes_a_new_version(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)

    updated = await store.update_assistant(assistant.id, make_draft(summary_prompt="List it."))

    versions = await store.list_prompts(assistant.id, PromptType.SUMMARY)
    assert [p.message for p in versions] == ["List it.", make_draft().summary_prompt]
    assert updated.active_summary_prompt_id == versions[0].id
    assert len(await store.list_prompts(assistant.id, PromptType.INITIAL)) == 1


@pytest.mark.asyncio
async def test_a_changed_model_config_becomes_a_new_active_version(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    new_config = ModelConfig("gpt-4o", max_tokens=500, temperature=1.2, top_p=0.9)

    updated = await store.update_assistant(assistant.id, make_draft(model_config=new_config))

    versions = await store.list_model_configs(assistant.id)
    assert [v.config for v in versions] == [new_config, make_draft().model_config]
    assert [v.is_active for v in versions] == [True, False]
    assert updated.active_model_config_id == versions[0].id


@pytest.mark.asyncio
async def test_an_unchanged_draft_adds_no_version(store: SqliteStore, user: User) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)

    updated = await store.update_assistant(assistant.id, make_draft())

    assert updated == assistant
    assert len(await store.list_prompts(assistant.id, PromptType.INITIAL)) == 1
    assert len(await store.list_prompts(assistant.id, PromptType.SUMMARY)) == 1
    assert len(await store.list_model_configs(assistant.id)) == 1


@pytest.mark.asyncio
async def test_plain_fields_change_in_place(store: SqliteStore, user: User) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    draft = make_draft(
        name="Plato",
        tag_line="Forms",
        description="Ideas first.",
        session_type=SessionType.BRAINSTORMING,
        guards_prompt_leak=True,
    )

    updated = await store.update_assistant(assistant.id, draft)

    details = await store.get_assistant_details(assistant.id)
    assert details is not None and details.to_draft() == draft
    assert (updated.name, updated.tag_line, updated.description) == (
        "Plato",
        "Forms",
        "Ideas first.",
    )
    assert updated.session_type is SessionType.BRAINSTORMING and updated.guards_prompt_leak
    assert updated.active_initial_prompt_id == assistant.active_initial_prompt_id
    assert updated.last_modified_date > assistant.last_modified_date
    assert updated.created_date == assistant.created_date


@pytest.mark.asyncio
async def test_activating_an_older_prompt_rolls_the_assistant_back(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    await store.update_assistant(assistant.id, make_draft(initial_prompt="Newer prompt."))

    rolled_back = await store.activate_prompt(assistant.id, assistant.active_initial_prompt_id)

    assert rolled_back.active_initial_prompt_id == assistant.active_initial_prompt_id
    versions = await store.list_prompts(assistant.id, PromptType.INITIAL)
    assert [(p.message, p.is_active) for p in versions] == [
        ("Newer prompt.", False),
        (make_draft().initial_prompt, True),
    ]
    details = await store.get_assistant_details(assistant.id)
    assert details is not None and details.initial_prompt.message == make_draft().initial_prompt


@pytest.mark.asyncio
async def test_activating_an_older_model_config_rolls_the_assistant_back(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    await store.update_assistant(assistant.id, make_draft(model_config=ModelConfig("gpt-4")))

    rolled_back = await store.activate_model_config(assistant.id, assistant.active_model_config_id)

    assert rolled_back.active_model_config_id == assistant.active_model_config_id
    versions = await store.list_model_configs(assistant.id)
    assert [v.is_active for v in versions] == [False, True]
    details = await store.get_assistant_details(assistant.id)
    assert details is not None and details.model_config.config == make_draft().model_config


@pytest.mark.asyncio
async def test_a_version_of_another_assistant_cannot_be_activated(
    store: SqliteStore, user: User
) -> None:
    mine = await store.create_assistant(make_draft(), user.id)
    other = await store.create_assistant(make_draft(name="Other"), user.id)

    with pytest.raises(NotFound):
        await store.activate_prompt(mine.id, other.active_initial_prompt_id)
    with pytest.raises(NotFound):
        await store.activate_model_config(mine.id, other.active_model_config_id)


@pytest.mark.asyncio
async def test_unknown_assistant_ids_raise_not_found(store: SqliteStore) -> None:
    with pytest.raises(NotFound):
        await store.update_assistant("missing", make_draft())
    with pytest.raises(NotFound):
        await store.set_assistant_active("missing", False)
    with pytest.raises(NotFound):
        await store.delete_assistant("missing")
    with pytest.raises(NotFound):
        await store.activate_prompt("missing", "missing")
    with pytest.raises(NotFound):
        await store.activate_model_config("missing", "missing")
    with pytest.raises(NotFound):
        await store.list_prompts("missing", PromptType.INITIAL)
    with pytest.raises(NotFound):
        await store.list_model_configs("missing")


@pytest.mark.asyncio
async def test_archived_assistants_are_listed_only_when_asked_and_can_be_restored(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)

    archived = await store.set_assistant_active(assistant.id, False)
    assert not archived.is_active
    assert await store.list_assistants() == []
    assert [a.id for a in await store.list_assistants(include_archived=True)] == [assistant.id]

    restored = await store.set_assistant_active(assistant.id, True)
    assert restored.is_active
    assert [a.id for a in await store.list_assistants()] == [assistant.id]


@pytest.mark.asyncio
async def test_assistants_list_showcased_first_then_own_each_by_name_ignoring_case(
    store: SqliteStore, user: User
) -> None:
    for name in ("zeta", "Alpha", "beta"):
        await store.create_assistant(make_draft(name=name), user.id)
    await store.sync_showcase(
        [
            ShowcaseEntry("yak", make_draft(name="Yak")),
            ShowcaseEntry("bee", make_draft(name="bee")),
        ]
    )

    listed = await store.list_assistants()

    assert [(a.name, a.showcased) for a in listed] == [
        ("bee", True),
        ("Yak", True),
        ("Alpha", False),
        ("beta", False),
        ("zeta", False),
    ]


@pytest.mark.asyncio
async def test_deleting_an_assistant_removes_its_versions_and_keeps_its_sessions(
    store: SqliteStore, user: User, data_dir: Path
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    session = await start_session(store, user, assistant.id)

    await store.delete_assistant(assistant.id)

    assert await store.get_assistant(assistant.id) is None
    assert count_rows(data_dir, "prompts") == 0
    assert count_rows(data_dir, "model_configs") == 0
    kept = await store.get_session(session.id)
    assert kept is not None
    assert kept.bot_id is None and kept.bot_initial_prompt_id is None
    assert kept.bot_initial_prompt_msg == make_draft().initial_prompt
    assert kept.bot_model_config == make_draft().model_config
    # The creator's statistics are history: deleting does not uncount.
    refreshed = await store.get_user(user.id)
    assert refreshed is not None and refreshed.bots_created == 1


# -- showcase -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_showcase_sync_inserts_showcased_assistants_owned_by_nobody(
    store: SqliteStore, user: User
) -> None:
    changes = await store.sync_showcase(
        [ShowcaseEntry("socrates", make_draft(guards_prompt_leak=True))]
    )

    assert changes == 1
    (assistant,) = await store.list_assistants()
    assert assistant.showcased and assistant.showcase_key == "socrates"
    assert assistant.creator_user_id is None and assistant.guards_prompt_leak
    refreshed = await store.get_user(user.id)
    assert refreshed is not None and refreshed.bots_created == 0


@pytest.mark.asyncio
async def test_showcase_sync_twice_changes_nothing_the_second_time(
    store: SqliteStore, data_dir: Path
) -> None:
    entries = [ShowcaseEntry("a", make_draft(name="A")), ShowcaseEntry("b", make_draft(name="B"))]

    assert await store.sync_showcase(entries) == 2
    before = await store.list_assistants()
    assert await store.sync_showcase(entries) == 0

    assert await store.list_assistants() == before
    assert count_rows(data_dir, "prompts") == 4
    assert count_rows(data_dir, "model_configs") == 2


@pytest.mark.asyncio
async def test_showcase_sync_updates_in_place_with_new_versions_only_where_changed(
    store: SqliteStore,
) -> None:
    await store.sync_showcase([ShowcaseEntry("a", make_draft())])
    (before,) = await store.list_assistants()

    changes = await store.sync_showcase(
        [ShowcaseEntry("a", make_draft(description="Better words.", initial_prompt="Newer."))]
    )

    assert changes == 1
    (after,) = await store.list_assistants()
    assert after.id == before.id and after.description == "Better words."
    assert after.active_initial_prompt_id != before.active_initial_prompt_id
    assert after.active_summary_prompt_id == before.active_summary_prompt_id
    assert after.active_model_config_id == before.active_model_config_id
    assert len(await store.list_prompts(after.id, PromptType.INITIAL)) == 2


@pytest.mark.asyncio
async def test_showcased_assistants_are_read_only(store: SqliteStore) -> None:
    await store.sync_showcase([ShowcaseEntry("a", make_draft())])
    (showcased,) = await store.list_assistants()

    with pytest.raises(ReadOnlyAssistant):
        await store.update_assistant(showcased.id, make_draft(name="Mine now"))
    with pytest.raises(ReadOnlyAssistant):
        await store.set_assistant_active(showcased.id, False)
    with pytest.raises(ReadOnlyAssistant):
        await store.delete_assistant(showcased.id)
    with pytest.raises(ReadOnlyAssistant):
        await store.activate_prompt(showcased.id, showcased.active_initial_prompt_id)
    with pytest.raises(ReadOnlyAssistant):
        await store.activate_model_config(showcased.id, showcased.active_model_config_id)
    assert await store.get_assistant(showcased.id) == showcased


# -- the showcase's ids, the same on every machine ------------------------------------------------
@pytest.mark.asyncio
async def test_two_machines_give_the_showcase_and_its_versions_the_same_ids(
    tmp_path: Path,
) -> None:
    entries = [ShowcaseEntry("tutor", make_draft()), ShowcaseEntry("critic", make_draft())]
    seen: list[list[tuple[str, ...]]] = []
    for machine in ("first", "second"):
        store = SqliteStore(tmp_path / machine / DB_NAME)
        (tmp_path / machine).mkdir()
        await store.open()
        try:
            await store.sync_showcase(entries)
            seen.append(
                sorted(
                    (
                        a.id,
                        a.active_initial_prompt_id,
                        a.active_summary_prompt_id,
                        a.active_model_config_id,
                    )
                    for a in await store.list_assistants()
                )
            )
        finally:
            await store.close()

    assert seen[0] == seen[1]
    assert {row[0] for row in seen[0]} == {showcase_bot_id("tutor"), showcase_bot_id("critic")}


@pytest.mark.asyncio
async def test_a_shipped_text_shipped_again_makes_its_old_version_active_again(
    store: SqliteStore,
) -> None:
    first = make_draft(initial_prompt="You are a tutor.")
    await store.sync_showcase([ShowcaseEntry("tutor", first)])
    await store.sync_showcase([ShowcaseEntry("tutor", make_draft(initial_prompt="Be terse."))])

    await store.sync_showcase([ShowcaseEntry("tutor", first)])

    bot_id = showcase_bot_id("tutor")
    versions = await store.list_prompts(bot_id, PromptType.INITIAL)
    assert sorted(p.message for p in versions) == ["Be terse.", "You are a tutor."]
    [active] = [p for p in versions if p.is_active]
    assert active.message == "You are a tutor."
    assert (await store.get_assistant(bot_id)).active_initial_prompt_id == active.id  # type: ignore[union-attr]
