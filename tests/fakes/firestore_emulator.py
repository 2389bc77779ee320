"""The official Firestore emulator (``gcloud emulators firestore start``) as a test stand-in.

One emulator serves a whole test session (it takes ~3 s and ~250 MB to start); tests keep apart
by each using a project id of its own. It is started in a session of its own (``setsid``), because
gcloud starts Java as a child: stopping only gcloud would leave Java holding the port, so
``stop`` ends the whole process group.

Nothing is downloaded: the emulator is the system package ``google-cloud-cli-firestore-emulator``
(or the gcloud component ``cloud-firestore-emulator``) with Java. Where it is missing,
``missing_reason`` says what to install, and the tests that need it are skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from contextlib import suppress
from pathlib import Path

from tests.fakes.loopback import OnLoopback

# The variable the google-cloud-firestore library reads to talk to an emulator.
EMULATOR_HOST_ENV = "FIRESTORE_EMULATOR_HOST"

INSTALL_HINT = (
    "install the Firestore emulator: `sudo apt-get install google-cloud-cli-firestore-emulator` "
    "(with a Java 17+ runtime, e.g. `openjdk-17-jre-headless`), or "
    "`gcloud components install cloud-firestore-emulator`"
)

_START_TIMEOUT_S = 60.0


def _emulator_folder(gcloud: str) -> Path:
    """Where gcloud keeps the emulator component (…/google-cloud-sdk/platform/…)."""
    sdk_root = Path(os.path.realpath(gcloud)).parent.parent
    return sdk_root / "platform" / "cloud-firestore-emulator"


def missing_reason() -> str | None:
    """Why the emulator cannot run on this machine (a sentence with the fix), or None."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return f"gcloud is not installed; {INSTALL_HINT}"
    if shutil.which("java") is None:
        return f"Java is not installed (the Firestore emulator runs on it); {INSTALL_HINT}"
    if not _emulator_folder(gcloud).is_dir():
        return f"gcloud has no Firestore emulator; {INSTALL_HINT}"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unique_project_id(prefix: str = "test") -> str:
    """A project id of its own for one test (the emulator keeps projects apart)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """End a server started in a process group of its own (``start_new_session``): politely,
    then for good (a child, such as gcloud's Java, may outlive its parent's exit)."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(timeout=5)
    _wait_until_group_gone(process.pid)


def _wait_until_group_gone(group: int, timeout_s: float = 5.0) -> None:
    """Wait until no process of ``group`` is left (a killed Java takes a moment to go), so the
    port is free when ``stop`` returns."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


class FirestoreEmulator(OnLoopback):
    """One running official emulator on 127.0.0.1; ``start`` then ``stop`` (or a ``with``)."""

    def __init__(self, *, rules: Path | None = None) -> None:
        self.rules = rules
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    def start(self) -> None:
        """Start the emulator and wait until it answers; raises with its log if it cannot."""
        gcloud = shutil.which("gcloud")
        if gcloud is None:
            raise RuntimeError(f"gcloud is not installed; {INSTALL_HINT}")
        self.port = free_port()
        command = [
            gcloud,
            "emulators",
            "firestore",
            "start",
            f"--host-port={self.host_port}",
            "--quiet",
        ]
        if self.rules is not None:
            command.append(f"--rules={self.rules}")
        handle, name = tempfile.mkstemp(prefix="firestore-emulator-", suffix=".log")
        self._log_path = Path(name)
        with os.fdopen(handle, "wb") as log:
            # A session of its own, so stop() can end gcloud and its Java child together.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"},
            )
        self._wait_or_stop(self._wait_until_ready)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        url = f"http://{self.host_port}/"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"The Firestore emulator exited at start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=1.0) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"The Firestore emulator did not answer within {_START_TIMEOUT_S:g} s:\n"
            f"{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the emulator printed (for a failure's message)."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        text = self._log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop gcloud and its Java child (the whole process group); idempotent."""
        process, self._process = self._process, None
        if process is not None:
            stop_process_group(process)
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None
