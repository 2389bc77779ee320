"""A real Secret Service for tests: gnome-keyring-daemon on a private D-Bus session bus.

Nothing here is faked: ``dbus-daemon`` runs a session bus that listens on a socket in a
temporary directory, and ``gnome-keyring-daemon`` serves ``org.freedesktop.secrets`` on it with
a login keyring created and unlocked from a password on stdin, all under a temporary HOME. The
bus has no service directories, so nothing is D-Bus-activated outside the two processes started
here (each in its own process group, killed as a group by ``stop``). The user's real keyring
and session bus are never touched.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from keyring.backends import SecretService

if TYPE_CHECKING:
    from jeepney.io.blocking import DBusConnection

SECRETS_BUS_NAME = "org.freedesktop.secrets"
# The Debian/Ubuntu packages that provide the two programs (scripts/run-tests installs them).
SYSTEM_PACKAGES = {"dbus-daemon": "dbus-daemon", "gnome-keyring-daemon": "gnome-keyring"}

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class SecretServiceUnavailable(RuntimeError):
    """The test Secret Service could not be started (the message says why and what to do)."""


class SecretServiceDaemon:
    """A private session bus with an unlocked gnome-keyring on it, rooted in ``root``."""

    def __init__(self, root: Path, *, password: str = "test-keyring-password") -> None:
        self.root = root
        self.password = password
        self.address = ""
        self._processes: list[subprocess.Popen[bytes]] = []
        self._log = root / "daemons.log"

    def environment(self) -> dict[str, str]:
        """The variables a client needs to reach this Secret Service."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def start(self, timeout_s: float = 15.0) -> None:
        """Start the bus and the keyring and wait until the keyring answers; raise if not."""
        missing = [name for name in SYSTEM_PACKAGES if shutil.which(name) is None]
        if missing:
            packages = " ".join(SYSTEM_PACKAGES[name] for name in missing)
            raise SecretServiceUnavailable(
                f"{', '.join(missing)} not found. Install with: sudo apt-get install -y {packages} "
                "(scripts/run-tests installs it for you)."
            )
        run_dir = self.root / "run"
        home = self.root / "home"
        for path in (run_dir, home):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        config = self.root / "bus.conf"
        config.write_text(_BUS_CONFIG.format(socket=run_dir / "bus"))
        env = {
            key: value
            for key, value in os.environ.items()
            # No display: gnome-keyring must never try to show an unlock prompt.
            if key not in {"DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"}
        }
        env.update(
            HOME=str(home),
            XDG_RUNTIME_DIR=str(run_dir),
            XDG_DATA_HOME=str(home / ".local" / "share"),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_CACHE_HOME=str(home / ".cache"),
        )
        deadline = time.monotonic() + timeout_s
        log = self._log.open("ab")
        try:
            bus = self._spawn(
                [
                    "dbus-daemon",
                    f"--config-file={config}",
                    "--nofork",
                    "--nopidfile",
                    "--print-address=1",
                ],
                env,
                stdout=subprocess.PIPE,
                stderr=log,
            )
            self.address = self._read_address(bus, deadline)
            env["DBUS_SESSION_BUS_ADDRESS"] = self.address
            keyring = self._spawn(
                ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                env,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
            )
            assert keyring.stdin is not None
            # --unlock reads the login keyring's password from stdin (creating the keyring).
            keyring.stdin.write(self.password.encode())
            keyring.stdin.close()
            self._wait_until_serving(deadline)
        except BaseException:
            self.stop()
            raise
        finally:
            log.close()

    def stop(self) -> None:
        """Kill every process started here (each process group), newest first."""
        for process in reversed(self._processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            if process.stdout is not None:
                process.stdout.close()
        self._processes.clear()

    @property
    def pids(self) -> list[int]:
        """The process ids of the bus and the keyring daemon (while running)."""
        return [process.pid for process in self._processes]

    def lock_default_collection(self) -> None:
        """Lock the login keyring, as a screen lock or timeout would."""
        import secretstorage

        with closing(self._connect()) as connection:
            secretstorage.get_default_collection(connection).lock()

    def stored_attributes(self) -> list[dict[str, str]]:
        """The attributes of every item in the login keyring (to see what was stored where)."""
        import secretstorage

        with closing(self._connect()) as connection:
            collection = secretstorage.get_default_collection(connection)
            return [item.get_attributes() for item in collection.get_all_items()]

    def stored_secrets(self) -> list[str]:
        """Every secret in the login keyring, decoded."""
        import secretstorage

        with closing(self._connect()) as connection:
            collection = secretstorage.get_default_collection(connection)
            return [item.get_secret().decode() for item in collection.get_all_items()]

    def clear(self) -> None:
        """Delete every item in the login keyring (between tests)."""
        import secretstorage

        with closing(self._connect()) as connection:
            for item in secretstorage.get_default_collection(connection).get_all_items():
                item.delete()

    # -- internals -----------------------------------------------------------------------------

    def _connect(self) -> DBusConnection:
        """A D-Bus connection to this bus (never the user's session bus)."""
        from jeepney.io.blocking import open_dbus_connection

        return open_dbus_connection(bus=self.address)

    def _spawn(
        self, argv: list[str], env: dict[str, str], **streams: object
    ) -> subprocess.Popen[bytes]:
        # A session of its own, so stop() can kill the process and anything it forked.
        process = subprocess.Popen(argv, env=env, start_new_session=True, **streams)  # type: ignore[call-overload]
        self._processes.append(process)
        return process

    def _read_address(self, bus: subprocess.Popen[bytes], deadline: float) -> str:
        assert bus.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(bus.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                raise SecretServiceUnavailable(self._failure("dbus-daemon printed no address"))
        address = bus.stdout.readline().decode().strip()
        if not address:
            raise SecretServiceUnavailable(self._failure("dbus-daemon exited at start"))
        return address

    def _wait_until_serving(self, deadline: float) -> None:
        import secretstorage

        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self._processes):
                raise SecretServiceUnavailable(self._failure("a daemon exited at start"))
            try:
                with closing(self._connect()) as connection:
                    if secretstorage.check_service_availability(connection):
                        collection = secretstorage.get_default_collection(connection)
                        if not collection.is_locked():
                            return
            except Exception as exc:  # not serving yet: the daemon is still starting
                last_error = exc
            time.sleep(0.05)
        raise SecretServiceUnavailable(
            self._failure(f"gnome-keyring did not serve an unlocked keyring ({last_error!r})")
        )

    def _failure(self, what: str) -> str:
        try:
            output = self._log.read_text(errors="replace").strip()
        except OSError:
            output = ""
        return f"The test Secret Service did not start: {what}." + (
            f"\nDaemon output:\n{output}" if output else ""
        )


# -- pytest fixtures (registered through tests/fakes/plugin.py) ----------------------------------


@pytest.fixture(scope="session")
def secret_service_daemon(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SecretServiceDaemon]:
    """One real Secret Service for the test session; fails (never skips) if it cannot start."""
    daemon = SecretServiceDaemon(tmp_path_factory.mktemp("secret-service"))
    problem = ""
    try:
        daemon.start()
    except SecretServiceUnavailable as exc:
        problem = str(exc)
    if problem:
        pytest.fail(problem, pytrace=False)
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def secret_service(
    secret_service_daemon: SecretServiceDaemon, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SecretServiceDaemon]:
    """The test Secret Service as this test's session bus, emptied after the test."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service_daemon.address)
    try:
        yield secret_service_daemon
    finally:
        secret_service_daemon.clear()


class SlowSecretService(SecretService.Keyring):
    """The real Secret Service backend, every answer ``delay_s`` late: a keyring waking up.

    A Secret Service that takes seconds to answer is common (a session just started, a daemon
    activated on first use); the app must not wait for it for anything but the AI service.
    """

    delay_s = 3.0

    def get_password(self, service: str, username: str) -> str | None:
        """The stored secret, after the delay."""
        time.sleep(self.delay_s)
        return super().get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        """Store the secret, after the delay."""
        time.sleep(self.delay_s)
        super().set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        """Forget the secret, after the delay."""
        time.sleep(self.delay_s)
        super().delete_password(service, username)
