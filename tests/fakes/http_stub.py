"""What the scripted HTTP stand-ins of the AI services share (``openai_server.py``,
``anthropic_server.py``): a threaded server on 127.0.0.1 that cuts its connections when it
stops, and a request handler that answers with JSON, chunked Server-Sent Events or a cut.

No pytest here: ``bench/`` scripts import the servers too.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Protocol, Self, TypeVar


@dataclass(frozen=True)
class StubRequest:
    """One request a stand-in received; ``headers`` keys are lower-case."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any


class RoutedRequest(Protocol):
    """A recorded request that knows which of its server's endpoints it was for."""

    @property
    def endpoint(self) -> str | None:
        """The endpoint, or None for a path the server does not serve."""
        ...


EndpointT = TypeVar("EndpointT", bound=str)
RequestT = TypeVar("RequestT", bound=RoutedRequest)
ScriptedT = TypeVar("ScriptedT")


class StubServer(Generic[EndpointT, RequestT, ScriptedT]):
    """A scripted HTTP server on an ephemeral port of 127.0.0.1, serving in a daemon thread.

    It keeps a queue of scripted responses per endpoint and a record of every request; its
    ``handler`` (a ``StubHandler`` subclass) reaches it as ``self.server.fake``.
    """

    def __init__(
        self, handler: type[StubHandler], *, thread_name: str, endpoints: Iterable[EndpointT]
    ) -> None:
        self._handler = handler
        self._thread_name = thread_name
        self._queues: dict[EndpointT, deque[ScriptedT]] = {name: deque() for name in endpoints}
        self._requests: list[RequestT] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: QuietServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread."""
        self._httpd = QuietServer(("127.0.0.1", 0), self._handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self._thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut every open connection (streams in progress end abruptly)."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            with self._lock:
                connections = list(self._connections)
            for conn in connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        assert self._httpd is not None, "start() the server first"
        return int(self._httpd.server_address[1])

    @property
    def requests(self) -> list[RequestT]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, endpoint: EndpointT) -> list[RequestT]:
        """The requests received by one endpoint, oldest first."""
        return [request for request in self.requests if request.endpoint == endpoint]

    # -- used by the handler -----------------------------------------------------------------

    def _record(self, request: RequestT) -> None:
        with self._lock:
            self._requests.append(request)

    def _next(self, endpoint: EndpointT) -> ScriptedT | None:
        with self._lock:
            queue = self._queues[endpoint]
            return queue.popleft() if queue else None

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _sleep(self, seconds: float) -> None:
        # Interrupted by stop(), so a slow scripted reply never holds up the teardown.
        if seconds > 0:
            self._stopping.wait(seconds)


class QuietServer(ThreadingHTTPServer):
    """The threaded server under a ``StubServer``; ``fake`` is that stand-in."""

    daemon_threads = True
    allow_reuse_address = True
    # A client asking about many models at once (Ollama's /api/show) opens many connections;
    # the default backlog of 5 refused some.
    request_queue_size = 64
    fake: Any

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-reply is part of what tests do; stay quiet about it.
        pass


class StubHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 answers of a stand-in: JSON, chunked Server-Sent Events, a connection cut."""

    protocol_version = "HTTP/1.1"
    # Each SSE event is its own small write: with Nagle's algorithm on, the client's delayed
    # ACK held every response for ~40 ms, which no real server does.
    disable_nagle_algorithm = True
    server: QuietServer

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.fake._track(self.connection, add=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch(None)

    def do_POST(self) -> None:
        self._dispatch(self._json_body())

    def _dispatch(self, body: Any) -> None:
        """Answer the request, whose body is ``body`` (its JSON where it is JSON)."""
        raise NotImplementedError

    def _json_body(self) -> Any:
        """The request's body: its JSON, its text where it is not JSON, None where empty."""
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _begin_event_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _drop(self) -> None:
        # Close mid-body, before the terminating zero-length chunk: the client sees a cut.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_json(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        self._send_bytes(status, json.dumps(body).encode(), "application/json", headers)

    def _send_bytes(
        self,
        status: int,
        payload: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
