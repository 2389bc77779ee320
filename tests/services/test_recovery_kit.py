"""The recovery kit: text a person can copy, read back exactly, with typos caught and named."""

from __future__ import annotations

import pytest

from gptlab_desktop.services.errors import InvalidRecoveryKit, ServiceError
from gptlab_desktop.services.recovery_kit import EXPLANATION, HEADING, RecoveryKit

USER_ID = "Ab3dEfGh1jKlMnOpQr5t"


@pytest.fixture
def kit() -> RecoveryKit:
    return RecoveryKit.generate(USER_ID)


def test_the_kit_text_reads_back_as_the_same_kit(kit: RecoveryKit) -> None:
    assert RecoveryKit.parse(kit.text) == kit


def test_the_kit_text_names_itself_explains_and_shows_the_user_and_the_key(
    kit: RecoveryKit,
) -> None:
    lines = kit.text.splitlines()

    assert lines[0] == HEADING and "version 1" in HEADING
    assert lines[1] == EXPLANATION and "passphrase" in EXPLANATION
    assert lines[2] == f"User ID: {USER_ID}"
    assert lines[3] == f"Secret key: {kit.code}"


def test_the_secret_key_is_nine_groups_of_four_after_a_version_prefix(kit: RecoveryKit) -> None:
    prefix, *groups = kit.code.split("-")

    assert prefix == "GL1"
    assert len(groups) == 9 and all(len(group) == 4 for group in groups)
    assert len(kit.secret_key) * 8 >= 128


def test_each_kit_has_its_own_random_secret_key() -> None:
    assert RecoveryKit.generate(USER_ID).secret_key != RecoveryKit.generate(USER_ID).secret_key


def test_whitespace_case_and_grouping_do_not_matter(kit: RecoveryKit) -> None:
    squashed = kit.code.replace("-", "").lower()
    regrouped = " ".join(squashed[i : i + 5] for i in range(0, len(squashed), 5))
    text = f"  user id :\n {USER_ID}\n\n   SECRET   KEY:  {regrouped[:3]}\n{regrouped[3:]}  \n"

    assert RecoveryKit.parse(text) == kit


def test_the_one_line_form_and_the_reversed_order_read_back(kit: RecoveryKit) -> None:
    assert RecoveryKit.parse(kit.one_line) == kit
    assert RecoveryKit.parse(f"Secret key: {kit.code}\nUser ID: {USER_ID}") == kit


def test_letters_that_read_as_digits_are_taken_as_those_digits() -> None:
    kit = RecoveryKit(USER_ID, bytes(20))  # all zeros: the code's key groups are all "0"
    typed = kit.text.replace("0000", "OOOO", 1).replace("0000", "oooo", 1)

    assert RecoveryKit.parse(typed) == kit


def test_text_after_the_key_is_ignored(kit: RecoveryKit) -> None:
    assert RecoveryKit.parse(kit.text + "Printed on Monday\n") == kit


def test_a_mistyped_character_is_caught_by_the_check_characters(kit: RecoveryKit) -> None:
    code = kit.code
    position = 5  # inside the first group of the key
    replacement = "2" if code[position] != "2" else "3"
    typo = kit.text.replace(code, code[:position] + replacement + code[position + 1 :])

    with pytest.raises(InvalidRecoveryKit, match=r"does not check out: .* has a typo"):
        RecoveryKit.parse(typo)


def test_a_user_id_copied_wrong_is_caught_too(kit: RecoveryKit) -> None:
    with pytest.raises(InvalidRecoveryKit, match="typo"):
        RecoveryKit.parse(kit.text.replace(USER_ID, USER_ID.lower()))


def test_a_missing_character_is_named_as_one(kit: RecoveryKit) -> None:
    with pytest.raises(InvalidRecoveryKit, match="missing or an extra character"):
        RecoveryKit.parse(f"User ID: {USER_ID}\nSecret key: {kit.code[:-1]}")


def test_a_character_never_used_is_named_by_its_position(kit: RecoveryKit) -> None:
    code = kit.code
    typo = code[:4] + "U" + code[5:]

    with pytest.raises(InvalidRecoveryKit, match=r"character 1 after GL1-"):
        RecoveryKit.parse(f"User ID: {USER_ID}\nSecret key: {typo}")


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("", "empty"),
        ("Secret key: GL1-0000", "no user ID"),
        (f"User ID: {USER_ID}", "no secret key"),
        (f"User ID: {USER_ID}\nSecret key: XX1-0000", "should start with GL1-"),
        (f"User ID: {USER_ID}\nSecret key: GL2-0000", "newer version"),
    ],
)
def test_an_incomplete_kit_says_what_is_missing(text: str, sentence: str) -> None:
    with pytest.raises(InvalidRecoveryKit, match=sentence) as caught:
        RecoveryKit.parse(text)

    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ServiceError)


def test_no_repr_or_error_shows_the_secret_key(kit: RecoveryKit) -> None:
    with pytest.raises(InvalidRecoveryKit) as caught:
        RecoveryKit.parse(kit.text.replace(USER_ID, USER_ID.lower()))

    shown = repr(kit) + str(kit) + str(caught.value) + repr(caught.value)
    assert USER_ID in repr(kit)
    key_groups = kit.code.split("-")[1:]
    assert not any(group in shown for group in key_groups)
    assert kit.secret_key.hex() not in shown
