"""What every stand-in server on 127.0.0.1 shares: its port, its address, and being a context
manager that starts it and stops it."""

from __future__ import annotations

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

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
