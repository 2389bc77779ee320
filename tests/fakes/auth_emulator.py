"""The Firebase Authentication emulator (``firebase emulators:start --only auth``) as a test
stand-in.

It is the Firebase CLI's own emulator (npm package firebase-tools, installed by the test command
into ``.tools/firebase-tools``), so sign-up, sign-in, refresh and password-reset answers are the
real Identity Toolkit and Secure Token JSON. It runs on Node.js alone: with the Emulator UI off it
downloads nothing and needs no Java (~3.5 s to start). One emulator serves a whole test session;
tests keep apart by using addresses of their own (or ``clear``).

Each start writes its own ``firebase.json`` into a temporary folder (free ports picked at run
time) and runs the CLI there, with a private configuration folder and its update check and
message-of-the-day fetch turned off, so it reaches nothing but 127.0.0.1. The project id starts
with ``demo-``: the CLI treats such a project as one that never talks to production.

Its ID tokens are unsigned JWTs (``alg: none``); the Firestore emulator accepts them as they are.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.firestore_emulator import free_port, stop_process_group
from tests.fakes.loopback import OnLoopback

REPO_ROOT = Path(__file__).resolve().parents[2]
FIREBASE_TOOLS_VERSION = "15.37.0"  # as scripts/bootstrap.sh installs it
FIREBASE_TOOLS_DIR = REPO_ROOT / ".tools" / "firebase-tools"

INSTALL_HINT = (
    "run the test command `scripts/run-tests` (it installs firebase-tools), or install it by "
    "hand: `npm install --no-save --no-package-lock --prefix .tools/firebase-tools "
    f"firebase-tools@{FIREBASE_TOOLS_VERSION}` (needs Node.js 20+: `sudo apt-get install nodejs "
    "npm`)"
)

# Any key is accepted by the emulator; the app sends its real Web API key in production.
API_KEY = "fake-api-key"
# The bearer token the emulators take as an administrator (the Admin SDK's, in effect).
OWNER = "Bearer owner"

_START_TIMEOUT_S = 60.0


def firebase_executable() -> Path | None:
    """The Firebase CLI installed for the tests, or None."""
    executable = FIREBASE_TOOLS_DIR / "node_modules" / ".bin" / "firebase"
    return executable if executable.exists() else None


def installed_version() -> str | None:
    """The version of firebase-tools in ``.tools/firebase-tools``, or None."""
    manifest = FIREBASE_TOOLS_DIR / "node_modules" / "firebase-tools" / "package.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


def missing_reason() -> str | None:
    """Why the Auth emulator cannot run on this machine (a sentence with the fix), or None."""
    if shutil.which("node") is None:
        return f"Node.js is not installed; {INSTALL_HINT}"
    if firebase_executable() is None:
        return f"firebase-tools is not installed in .tools/firebase-tools; {INSTALL_HINT}"
    version = installed_version()
    if version != FIREBASE_TOOLS_VERSION:
        return (
            f"firebase-tools {version} is installed, the tests expect {FIREBASE_TOOLS_VERSION}; "
            f"{INSTALL_HINT}"
        )
    return None


def unique_email(prefix: str = "user") -> str:
    """An address no other test uses (the emulator is shared by the whole session)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def token_claims(id_token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (the emulator's are unsigned anyway)."""
    payload = id_token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return dict(json.loads(base64.urlsafe_b64decode(payload)))


@dataclass(frozen=True)
class TestUser:
    """A signed-up user and the tokens the emulator gave it."""

    __test__ = False  # not a test class, whatever its name says

    uid: str
    id_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    email: str | None


class AuthEmulator(OnLoopback):
    """One running Auth emulator on 127.0.0.1 for ``project_id``; ``start`` then ``stop``."""

    def __init__(self, project_id: str | None = None) -> None:
        self.project_id = project_id or f"demo-gptlab-{uuid.uuid4().hex[:8]}"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, as ``FIREBASE_AUTH_EMULATOR_HOST`` takes it."""
        return self.host_port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host_port}"

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the emulator and wait until it answers; raises with its log if it cannot."""
        executable = firebase_executable()
        if executable is None:
            raise RuntimeError(f"firebase-tools is not installed; {INSTALL_HINT}")
        self._folder = tempfile.TemporaryDirectory(prefix="auth-emulator-")
        folder = Path(self._folder.name)
        self.port = free_port()
        config = {
            "emulators": {
                "auth": {"host": "127.0.0.1", "port": self.port},
                # The hub and the logging emulator start with any emulator: their ports too.
                "hub": {"host": "127.0.0.1", "port": free_port()},
                "logging": {"host": "127.0.0.1", "port": free_port()},
                "ui": {"enabled": False},
                "singleProjectMode": True,
            }
        }
        config_path = folder / "firebase.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        (folder / "config").mkdir()
        environment = {
            key: value
            for key, value in os.environ.items()
            # Nothing of a real account reaches the CLI.
            if key not in {"FIREBASE_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS"}
        }
        environment.update(
            # A configuration folder of its own: no stored login, usage reporting never on.
            XDG_CONFIG_HOME=str(folder / "config"),
            # No update check against the registry…
            NO_UPDATE_NOTIFIER="1",
            # …and no message of the day from the web (fetchMOTD skips on CI).
            CI="1",
        )
        command = [
            str(executable),
            "emulators:start",
            "--only",
            "auth",
            "--project",
            self.project_id,
            "--config",
            str(config_path),
            "--non-interactive",
        ]
        with (folder / "emulator.log").open("wb") as log:
            # A session of its own, so stop() ends the CLI and anything it started together.
            self._process = subprocess.Popen(
                command,
                cwd=folder,  # firebase-debug.log goes there
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=environment,
            )
        self._wait_or_stop(self._wait_until_ready)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"The Auth emulator exited at start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/", timeout=1.0) as response:
                    if json.loads(response.read()).get("authEmulator", {}).get("ready"):
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"The Auth emulator did not answer within {_START_TIMEOUT_S:g} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the emulator printed (for a failure's message)."""
        if self._folder is None:
            return ""
        log = Path(self._folder.name) / "emulator.log"
        with suppress(OSError):
            return "\n".join(log.read_text("utf-8", errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        """Stop the CLI (its whole process group); idempotent."""
        process, self._process = self._process, None
        if process is not None:
            stop_process_group(process)
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    # -- what tests do with it -------------------------------------------------------------------

    def clear(self) -> None:
        """Delete every account of the project."""
        self._request("DELETE", f"/emulator/v1/projects/{self.project_id}/accounts")

    def sign_up(self, email: str, password: str, display_name: str | None = None) -> TestUser:
        """A new email-and-password account, signed in."""
        reply = self._identity(
            "accounts:signUp", {"email": email, "password": password, "returnSecureToken": True}
        )
        user = TestUser(reply["localId"], reply["idToken"], reply["refreshToken"], email)
        if display_name is not None:
            self._identity(
                "accounts:update", {"idToken": user.id_token, "displayName": display_name}
            )
            user = self.fresh_token(user)
        return user

    def sign_in(self, email: str, password: str) -> TestUser:
        """Sign an existing account in with its password."""
        reply = self._identity(
            "accounts:signInWithPassword",
            {"email": email, "password": password, "returnSecureToken": True},
        )
        return TestUser(reply["localId"], reply["idToken"], reply["refreshToken"], email)

    def fresh_token(self, user: TestUser) -> TestUser:
        """``user`` with a new ID token from its refresh token (one that carries new claims)."""
        reply = self._request(
            "POST",
            f"/securetoken.googleapis.com/v1/token?key={API_KEY}",
            form={"grant_type": "refresh_token", "refresh_token": user.refresh_token},
        )
        return TestUser(user.uid, reply["id_token"], reply["refresh_token"], user.email)

    def set_claims(self, user: TestUser, claims: dict[str, Any]) -> TestUser:
        """Give ``user`` custom claims (as the Admin SDK does) and return it with a fresh token
        that carries them."""
        self._admin_update(user.uid, {"customAttributes": json.dumps(claims)})
        return self.fresh_token(user)

    def disable(self, uid: str) -> None:
        """Disable an account, as an administrator does in the console."""
        self._admin_update(uid, {"disableUser": True})

    def delete(self, uid: str) -> None:
        """Delete an account, as an administrator does."""
        self._request(
            "POST",
            f"/identitytoolkit.googleapis.com/v1/projects/{self.project_id}/accounts:delete",
            body={"localId": uid},
            owner=True,
        )

    def oob_codes(self) -> list[dict[str, Any]]:
        """The out-of-band codes the emulator would have sent (password-reset emails):
        ``email``, ``requestType``, ``oobCode``, ``oobLink``."""
        reply = self._request("GET", f"/emulator/v1/projects/{self.project_id}/oobCodes")
        return list(reply.get("oobCodes", []))

    def _admin_update(self, uid: str, fields: dict[str, Any]) -> None:
        self._request(
            "POST",
            f"/identitytoolkit.googleapis.com/v1/projects/{self.project_id}/accounts:update",
            body={"localId": uid, **fields},
            owner=True,
        )

    def _identity(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request(
            "POST", f"/identitytoolkit.googleapis.com/v1/{method}?key={API_KEY}", body=body
        )

    def _request(
        self,
        verb: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
        owner: bool = False,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            from urllib.parse import urlencode

            data = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if owner:
            headers["Authorization"] = OWNER
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=data, headers=headers, method=verb
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{verb} {path} → {error.code}: {error.read()!r}") from None
        return dict(json.loads(text)) if text.strip() else {}
