"""What every stand-in server on 127.0.0.1 shares: its port, its address, and being a context
manager that starts it and stops it."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Self


class OnLoopback:
    """A server on ``127.0.0.1:port``; subclasses say how it starts and stops."""

    port: int = 0

    @property
    def host_port(self) -> str:
        """``127.0.0.1:PORT``, as a client's ``host:port`` setting takes it."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start serving."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop serving."""
        raise NotImplementedError

    def _wait_or_stop(self, wait_until_ready: Callable[[], None]) -> None:
        """Wait for a server just started; stopped again if it never gets ready."""
        try:
            wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def is_listening(port: int) -> bool:
    """Whether something accepts connections on ``127.0.0.1:port``."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def stopping_frees_its_port(make: Callable[[], OnLoopback]) -> bool:
    """Start a server of its own, stop it: whether its port is free again (and was taken)."""
    server = make()
    server.start()
    port = server.port
    was_listening = is_listening(port)
    server.stop()
    return was_listening and not is_listening(port)
