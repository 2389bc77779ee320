"""What the google library's failures become: the app's typed errors with a sentence."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as google_errors
from google.auth import exceptions as auth_errors

from gptlab_desktop.services.errors import CloudRefused, CloudUnavailable, NotFound
from gptlab_desktop.services.store.cloud.firestore import cloud_error


@pytest.mark.parametrize(
    "error",
    [
        google_errors.ServiceUnavailable("no route"),
        google_errors.DeadlineExceeded("slow"),
        google_errors.RetryError("gave up", cause=None),
        google_errors.ResourceExhausted("quota"),
        google_errors.Aborted("contention"),
        auth_errors.TransportError("no network for the token"),
    ],
)
def test_passing_failures_are_unavailable(error: Exception) -> None:
    assert isinstance(cloud_error(error), CloudUnavailable)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (google_errors.PermissionDenied("Missing or insufficient permissions."), "permission"),
        (google_errors.Unauthenticated("bad token"), "credentials"),
        (auth_errors.RefreshError("expired"), "credentials"),
        (google_errors.InvalidArgument("The value of property x is too long"), "not accepted"),
        (google_errors.FailedPrecondition("The query requires an index."), "index"),
    ],
)
def test_refusals_say_why_and_are_not_retried(error: Exception, words: str) -> None:
    refused = cloud_error(error)

    assert isinstance(refused, CloudRefused)
    assert words in refused.reason


def test_a_missing_document_is_not_found() -> None:
    assert isinstance(cloud_error(google_errors.NotFound("no entity to update")), NotFound)


def test_a_long_server_message_is_cut_short() -> None:
    refused = cloud_error(google_errors.InvalidArgument("x" * 1000))

    assert len(refused.message) < 400
