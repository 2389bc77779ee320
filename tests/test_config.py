"""Configuration is resolved once, from the command line and the environment given."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptlab_desktop.config import (
    OPENAI_BASE_URL,
    AiEndpoint,
    CloudCredentials,
    ConfigError,
    SharedAccount,
    StorageMode,
    StorageSettings,
    apply_to_libraries,
    is_openai_url,
    resolve_ai_endpoint,
    resolve_config,
)
from gptlab_desktop.services.recovery_kit import RecoveryKit


def test_without_overrides_the_endpoint_is_openais_and_has_no_key() -> None:
    endpoint = resolve_ai_endpoint({})
    assert endpoint == AiEndpoint(OPENAI_BASE_URL, None)
    assert endpoint.is_openai and endpoint.needs_key


def test_the_environment_names_the_server_and_the_key_trimmed() -> None:
    endpoint = resolve_ai_endpoint(
        {"OPENAI_BASE_URL": " http://127.0.0.1:11434/v1/ ", "OPENAI_API_KEY": " sk-x \n"}
    )
    assert endpoint.base_url == "http://127.0.0.1:11434/v1"
    assert endpoint.env_api_key == "sk-x"
    assert not endpoint.is_openai and not endpoint.needs_key


def test_blank_variables_count_as_unset() -> None:
    endpoint = resolve_ai_endpoint({"OPENAI_BASE_URL": "  ", "OPENAI_API_KEY": ""})
    assert endpoint == AiEndpoint()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, True),
        ("https://api.openai.com/v1", True),
        ("https://API.OPENAI.COM/v1/", True),
        ("https://api.openai.com.evil.example/v1", False),
        ("http://localhost:1234/v1", False),
        ("https://openrouter.ai/api/v1", False),
    ],
)
def test_one_place_decides_whether_a_server_is_openais(url: str | None, expected: bool) -> None:
    assert is_openai_url(url) is expected


def test_the_key_never_reaches_a_repr() -> None:
    config = resolve_config("/tmp/data", {"OPENAI_API_KEY": "sk-test-secret-value"})
    assert "sk-test-secret-value" not in repr(config)
    assert "sk-test-secret-value" not in repr(config.ai)


def test_the_data_directory_comes_from_the_command_line_then_the_environment(
    tmp_path: Path,
) -> None:
    from_env = resolve_config(None, {"GPTLAB_DATA_DIR": str(tmp_path / "env")})
    assert from_env.paths.data_dir == tmp_path / "env"
    both = resolve_config(str(tmp_path / "cli"), {"GPTLAB_DATA_DIR": str(tmp_path / "env")})
    assert both.paths.data_dir == tmp_path / "cli"


def test_tiktokens_folder_is_the_users_choice_else_inside_the_apps_cache(tmp_path: Path) -> None:
    default = resolve_config(str(tmp_path / "data"), {})
    assert default.tokenizer_cache_dir == tmp_path / "data" / "cache" / "tiktoken"
    chosen = resolve_config(str(tmp_path / "data"), {"TIKTOKEN_CACHE_DIR": str(tmp_path / "t")})
    assert chosen.tokenizer_cache_dir == tmp_path / "t"


def test_the_libraries_variables_are_set_by_configuration_only(tmp_path: Path) -> None:
    config = resolve_config(str(tmp_path / "data"), {})
    environ: dict[str, str] = {}
    apply_to_libraries(config, environ)
    assert environ == {"TIKTOKEN_CACHE_DIR": str(config.tokenizer_cache_dir)}


def test_no_service_reads_the_environment() -> None:
    # The rule of config.py, checked on the source: only configuration reads os.environ.
    services = Path(__file__).resolve().parents[1] / "gptlab_desktop" / "services"
    readers = [
        str(path.relative_to(services))
        for path in services.rglob("*.py")
        if "os.environ" in path.read_text("utf-8") or "os.getenv" in path.read_text("utf-8")
    ]
    assert readers == []


# -- storage ----------------------------------------------------------------------------------


def test_without_settings_or_variables_the_data_stays_local(tmp_path: Path) -> None:
    config = resolve_config(str(tmp_path), {})
    assert config.storage == StorageSettings()
    assert config.storage.mode is StorageMode.LOCAL and not config.storage.is_cloud


def test_the_saved_storage_choice_is_read_from_the_data_directory(tmp_path: Path) -> None:
    saved = StorageSettings(
        StorageMode.FIRESTORE, "my-project", "chats", CloudCredentials.SERVICE_ACCOUNT
    )
    (tmp_path / "storage.json").write_text(saved.to_json(), "utf-8")

    assert resolve_config(str(tmp_path), {}).storage == saved


def test_the_environment_wins_over_the_saved_choice_for_the_run(tmp_path: Path) -> None:
    (tmp_path / "storage.json").write_text(StorageSettings().to_json(), "utf-8")
    env = {
        "GPTLAB_STORAGE": "Firestore",
        "GPTLAB_FIRESTORE_PROJECT": " team-x ",
        "GPTLAB_FIRESTORE_DATABASE": "db2",
        "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8681",
    }

    storage = resolve_config(str(tmp_path), env).storage

    assert (storage.mode, storage.project_id, storage.database_id) == (
        StorageMode.FIRESTORE,
        "team-x",
        "db2",
    )
    assert storage.emulator_host == "127.0.0.1:8681" and storage.is_cloud


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"mode": "floppy"}'])
def test_a_damaged_storage_file_opens_the_local_data(tmp_path: Path, text: str) -> None:
    (tmp_path / "storage.json").write_text(text, "utf-8")
    assert resolve_config(str(tmp_path), {}).storage == StorageSettings()


def test_an_unknown_storage_mode_in_the_environment_is_ignored(tmp_path: Path) -> None:
    assert resolve_config(str(tmp_path), {"GPTLAB_STORAGE": "tape"}).storage.mode is (
        StorageMode.LOCAL
    )


def test_the_emulator_address_is_handed_to_the_firestore_library(tmp_path: Path) -> None:
    config = resolve_config(str(tmp_path), {"FIRESTORE_EMULATOR_HOST": "127.0.0.1:9"})
    environ: dict[str, str] = {}

    apply_to_libraries(config, environ)

    assert environ["FIRESTORE_EMULATOR_HOST"] == "127.0.0.1:9"


def test_a_shared_project_is_configured_by_the_environment(tmp_path: Path) -> None:
    env = {
        "GPTLAB_STORAGE": "shared",
        "GPTLAB_FIRESTORE_PROJECT": "demo-team",
        "GPTLAB_FIREBASE_API_KEY": "web-key",
        "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099",
        "GPTLAB_FIRESTORE_ENDPOINT": "localhost:8443",
    }

    storage = resolve_config(str(tmp_path), env).storage

    assert storage.is_shared and storage.is_cloud
    assert (storage.project_id, storage.firebase_api_key) == ("demo-team", "web-key")
    assert storage.auth_emulator_host == "127.0.0.1:9099"
    assert storage.firestore_endpoint == "localhost:8443"


def test_a_shared_project_without_its_web_api_key_is_not_tried(tmp_path: Path) -> None:
    env = {"GPTLAB_STORAGE": "shared", "GPTLAB_FIRESTORE_PROJECT": "demo-team"}
    assert not resolve_config(str(tmp_path), env).storage.is_cloud


def test_each_signed_in_account_has_a_cache_of_its_own(tmp_path: Path) -> None:
    shared = StorageSettings(
        StorageMode.SHARED,
        "demo-team",
        firebase_api_key="web-key",
        account=SharedAccount("uid-1", "ada@example.com", "Ada"),
    )
    (tmp_path / "storage.json").write_text(shared.to_json(), "utf-8")

    config = resolve_config(str(tmp_path), {})

    assert config.storage == shared
    assert config.database_file == tmp_path / "shared" / "demo-team" / "uid-1.sqlite3"
    signed_out = resolve_config(str(tmp_path), {"GPTLAB_FIRESTORE_PROJECT": "other"})
    assert signed_out.storage.account is None  # another project: not this account's
    assert signed_out.database_file == config.paths.database_file  # the local data
    own_project = resolve_config(str(tmp_path), {"GPTLAB_STORAGE": "firestore"})
    assert own_project.database_file == config.paths.database_file


def test_a_shared_project_is_never_reached_through_the_emulator_variable(
    tmp_path: Path,
) -> None:
    env = {
        "GPTLAB_STORAGE": "shared",
        "GPTLAB_FIRESTORE_PROJECT": "demo-team",
        "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
    }
    environ = dict(env)

    apply_to_libraries(resolve_config(str(tmp_path), env), environ)

    # Set, the client would send no user's credentials and the rules would not apply.
    assert "FIRESTORE_EMULATOR_HOST" not in environ


# -- GPTLAB_RECOVERY_KIT -------------------------------------------------------------------------


def test_without_a_recovery_kit_a_first_machine_makes_its_own(tmp_path: Path) -> None:
    assert resolve_config(str(tmp_path), {}).recovery_kit is None
    assert resolve_config(str(tmp_path), {"GPTLAB_RECOVERY_KIT": "  "}).recovery_kit is None


def test_the_recovery_kit_is_read_into_a_typed_value(tmp_path: Path) -> None:
    kit = RecoveryKit.generate("Ab3dEfGh1jKlMnOpQr5t")

    for text in (kit.text, kit.one_line):
        config = resolve_config(str(tmp_path), {"GPTLAB_RECOVERY_KIT": text})
        assert config.recovery_kit == kit


def test_a_recovery_kit_with_a_typo_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    kit = RecoveryKit.generate("Ab3dEfGh1jKlMnOpQr5t")
    typo = kit.one_line.replace(kit.user_id, kit.user_id.lower())

    with pytest.raises(ConfigError, match=r"GPTLAB_RECOVERY_KIT cannot be used: .*typo") as caught:
        resolve_config(str(tmp_path), {"GPTLAB_RECOVERY_KIT": typo})

    assert kit.code not in str(caught.value)


def test_the_recovery_kit_is_never_in_the_configs_repr(tmp_path: Path) -> None:
    kit = RecoveryKit.generate("Ab3dEfGh1jKlMnOpQr5t")
    config = resolve_config(str(tmp_path), {"GPTLAB_RECOVERY_KIT": kit.text})

    shown = repr(config)
    assert kit.code not in shown and "recovery_kit=" not in shown


def test_a_bad_recovery_kit_stops_the_start_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gptlab_desktop.app import main

    monkeypatch.setenv("GPTLAB_RECOVERY_KIT", "User ID: x Secret key: GL1-0000")

    assert main(["--data-dir", str(tmp_path)]) == 2
    assert "GPTLAB_RECOVERY_KIT cannot be used" in capsys.readouterr().err
