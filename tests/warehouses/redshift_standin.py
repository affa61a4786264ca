"""A loopback stand-in for Redshift: the test PostgreSQL server behind a small relay.

Redshift speaks PostgreSQL's wire protocol; redshift_connector adds startup parameters that only
Redshift knows (`client_protocol_version`, `driver_version`, …), which PostgreSQL refuses. The relay
renames them into a custom namespace PostgreSQL accepts (`redshift.<name>`), reports Redshift's
server version, and passes every other byte through unchanged, so the driver's own queries, binding and paging reach a real server.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator

_REDSHIFT_ONLY = {b"client_protocol_version", b"driver_version", b"os_version", b"driver_discovery_version"}


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _startup(packet: bytes) -> bytes:
    """The startup message with Redshift-only parameters renamed."""
    version, body = packet[:4], packet[4:]
    parts = body.split(b"\0")
    out: list[bytes] = []
    for i in range(0, len(parts) - 2, 2):
        key, value = parts[i], parts[i + 1]
        if not key:
            break
        out += [b"redshift." + key if key in _REDSHIFT_ONLY else key, value]
    payload = version + b"\0".join(out) + b"\0\0"
    return struct.pack("!i", len(payload) + 4) + payload


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _answers(server: socket.socket, client: socket.socket) -> None:
    """Server messages, framed one by one; the reported server version becomes Redshift's own
    (`8.0.2`: the driver reads it as a version number, PostgreSQL's Debian build string is not)."""
    with contextlib.suppress(OSError, ConnectionError):
        while True:
            kind = _recv_exact(server, 1)
            (length,) = struct.unpack("!i", _recv_exact(server, 4))
            body = _recv_exact(server, length - 4)
            if kind == b"S" and body.startswith(b"server_version\0"):
                body = b"server_version\x008.0.2\0"
            client.sendall(kind + struct.pack("!i", len(body) + 4) + body)
    with contextlib.suppress(OSError):
        client.shutdown(socket.SHUT_WR)


def _serve_one(client: socket.socket, upstream: tuple[str, int]) -> None:
    with contextlib.closing(client), contextlib.closing(socket.create_connection(upstream)) as server:
        (length,) = struct.unpack("!i", _recv_exact(client, 4))
        server.sendall(_startup(_recv_exact(client, length - 4)))
        back = threading.Thread(target=_answers, args=(server, client), daemon=True)
        back.start()
        _pipe(client, server)
        back.join(timeout=5)


@contextlib.contextmanager
def relay(host: str, port: int) -> Iterator[int]:
    """Listen on a loopback port that leads to PostgreSQL at host:port; yields the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_serve_one, args=(client, (host, port)), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
