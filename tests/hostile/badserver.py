"""A misbehaving HTTP server on loopback, for the cases real proxies and endpoints produce.

Modes (one per server): `echo` answers 400 with the request line, headers and body in its body (as
some proxies do); `trickle` sends its headers, then one byte a second, forever; `stall` reads the
request and never answers; `deep` answers 200 with JSON nested 100,000 levels deep; `garbage`
answers 200 with bytes that are not JSON. Every request is recorded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class BadServer:
    url: str
    requests: list[Recorded] = field(default_factory=list)


def _handler(mode: str, server: BadServer, stop: threading.Event) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server.requests.append(Recorded(self.command, self.path, dict(self.headers), body))
            if mode == "echo":
                text = f"{self.requestline}\n{self.headers}\n".encode() + body
                self._answer(400, b"proxy rejected the request:\n" + text, "text/plain")
            elif mode == "trickle":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                while not stop.is_set():
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:
                        return
                    stop.wait(1.0)
            elif mode == "stall":
                stop.wait(120)
            elif mode == "deep":
                self._answer(200, b'{"data":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json")
            else:  # garbage
                self._answer(200, b"\x00\xff not json \xfe", "application/json")

        def _answer(self, status: int, payload: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client hanging up on a trickle is the point, not a failure of the test


@contextmanager
def bad_server(mode: str) -> Iterator[BadServer]:
    """Serve `mode` on 127.0.0.1 (a free port) until the block ends."""
    stop = threading.Event()
    box = BadServer(url="")
    httpd = _QuietServer(("127.0.0.1", 0), _handler(mode, box, stop))
    box.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        time.sleep(0)
