"""GPT Lab's Firestore layout as DESIGN.md gives it, field by field: what the cloud store's tests
hold its documents to (written out here, not taken from the code under test)."""

from __future__ import annotations

# ``sessions/{id}``: GPT Lab's fields (additions allowed, renamings never).
SESSION_FIELDS = frozenset(
    {
        "user_id",
        "bot_id",
        "bot_initial_prompt_msg",
        "bot_model_config",
        "bot_session_type",
        "bot_summary_prompt_msg",
        "created_date",
        "session_schema_version",
        "status",
        "message_count",
        "messages_str",
        "user_liked",
    }
)
