"""A TLS front for the Firestore emulator: the app's production path (TLS, a bearer token, rules)
against a server that speaks only plaintext.

With ``FIRESTORE_EMULATOR_HOST`` set, the Python client talks plaintext and always sends
``Bearer owner``, which bypasses security rules. To reach the emulator as a signed-in user the
client must be built as for production — no emulator variable, an ``api_endpoint`` and real
credentials — and production means TLS. This front terminates TLS on ``127.0.0.1:<port>`` with a
certificate made for the run (``localhost`` and ``127.0.0.1``), offers ALPN ``h2`` (gRPC needs
it) and ``http/1.1`` (the REST API), and forwards the decrypted bytes to the emulator's plaintext
port, which takes both.

gRPC trusts the certificate through ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``; gRPC reads that file
once per process, the first time a TLS channel needs default roots, so the variable must be set
before the first TLS channel is made (importing ``grpc`` earlier is fine).

It runs an asyncio loop on a thread of its own, so it keeps working while a test's loop is busy.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.firestore_emulator import free_port
from tests.fakes.loopback import OnLoopback

# The variable gRPC reads its default trusted roots from.
GRPC_ROOTS_ENV = "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"


@dataclass(frozen=True)
class Certificates:
    """A run's certificate authority and the server certificate it signed, as PEM files."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_certificates(folder: Path) -> Certificates:
    """A new CA and a server certificate for ``localhost`` and ``127.0.0.1``, in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "GPT Lab Desktop test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    certificates = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    certificates.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certificates.cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    certificates.key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificates


class TlsFront(OnLoopback):
    """Terminates TLS on ``127.0.0.1:<port>`` and forwards to ``target_host:target_port``."""

    def __init__(self, target_host: str, target_port: int, certificates: Certificates) -> None:
        self._target = (target_host, target_port)
        self.certificates = certificates
        self.port = free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``, as the client's ``api_endpoint`` takes it (the certificate names
        the address; ``localhost`` would make gRPC try ::1 first, where nothing listens)."""
        return self.host_port

    @property
    def ca_file(self) -> Path:
        """The certificate to trust."""
        return self.certificates.ca_file

    def _context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificates.cert_file, self.certificates.key_file)
        context.set_alpn_protocols(["h2", "http/1.1"])
        return context

    def start(self) -> None:
        """Listen on the port, on a thread of its own."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            try:
                self._server = await asyncio.start_server(
                    self._handle, "127.0.0.1", self.port, ssl=self._context()
                )
            except BaseException as error:
                failure.append(error)
            finally:
                ready.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            task = loop.create_task(serve())
            loop.run_forever()
            task.cancel()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="tls-front", daemon=True)
        self._thread.start()
        ready.wait(timeout=10)
        if failure:
            self.stop()
            raise failure[0]

    def stop(self) -> None:
        """Close the listener and every connection; idempotent."""
        loop, self._loop = self._loop, None
        if loop is None:
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.close()
            handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(close(), loop)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    async def _handle(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self._target)
        except OSError:
            client_writer.close()
            return
        self._writers |= {client_writer, server_writer}
        try:
            await asyncio.gather(
                self._pump(client_reader, server_writer), self._pump(server_reader, client_writer)
            )
        finally:
            for writer in (client_writer, server_writer):
                self._writers.discard(writer)
                writer.close()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except (OSError, ssl.SSLError):
            pass
        finally:
            # Half-close: the other direction may still have an answer to deliver.
            with suppress(OSError, RuntimeError, ssl.SSLError):
                if writer.can_write_eof():
                    writer.write_eof()
                else:
                    writer.close()
