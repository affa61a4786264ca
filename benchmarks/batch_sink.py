"""A loopback Tracking API sink for the sync benchmarks: counts what arrives, answers at once.

Owns: one HTTP/1.1 keep-alive server on 127.0.0.1 that accepts `POST …/batch` (gzip or not),
counts requests, events and distinct messageIds, and answers `{"success":true}`; `GET /stats`
reads the counts and `POST /reset` clears them. Must never bind anything but loopback, never
store message bodies (only a 64-bit hash of each messageId), never echo a header back.

    python benchmarks/batch_sink.py        # prints the port on its first line, serves until killed
"""

from __future__ import annotations

import array
import json
import re
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:  # the project's JSON parser when present: the sink should cost the senders as little as can be
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

_OK = b'{"success":true}'
_MESSAGE_IDS = re.compile(rb'"messageId"\s*:\s*"([^"]*)"')


class Counts:
    """What the sink received since the last reset."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.events = 0
        self.bytes = 0
        self.bad = 0
        self.checked = False
        self.ids = array.array("q")  # hash(messageId): 8 bytes a message, even at 10 M messages

    def add(self, body: bytes, gzipped: bool) -> bool:
        try:
            raw = zlib.decompress(body, 31) if gzipped else body
            # A scan for the messageIds costs a tenth of a full parse, so the sink stays far from
            # what limits a sender; the first body after a reset is parsed in full to check it.
            found = _MESSAGE_IDS.findall(raw)
            with self.lock:
                check = not self.checked
                self.checked = True
            if check and [m["messageId"].encode() for m in _loads(raw)["batch"]] != found:
                raise ValueError("the messageId scan disagrees with the JSON body")
            hashed = list(map(hash, found))
        except (ValueError, KeyError, TypeError, zlib.error):
            with self.lock:
                self.bad += 1
            return False
        with self.lock:
            self.requests += 1
            self.events += len(hashed)
            self.bytes += len(body)
            self.ids.extend(hashed)
        return True

    def stats(self) -> dict[str, int]:
        with self.lock:
            ids = self.ids.tobytes()
            out = {"requests": self.requests, "events": self.events, "bytes": self.bytes, "bad": self.bad}
        out["distinct_message_ids"] = _distinct(ids)
        return out


def _distinct(packed: bytes) -> int:
    """Distinct int64 values in `packed`, without a Python object per value where pyarrow exists."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover
        return len(set(array.array("q", packed)))
    values = pa.Array.from_buffers(pa.int64(), len(packed) // 8, [None, pa.py_buffer(packed)])
    return int(pc.count_distinct(values).as_py())


COUNTS = Counts()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as both tools' clients expect
    # Headers and body go out as two writes; with Nagle's algorithm the second waits for the
    # client's delayed ACK (about 40 ms on loopback), which would stall every request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        return  # silent: the benchmark reads /stats, not a log

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/").endswith("/reset"):
            with COUNTS.lock:
                COUNTS.reset()
            self._answer(200, _OK)
        elif self.path.rstrip("/").endswith("/batch"):
            gzipped = (self.headers.get("Content-Encoding") or "").lower() == "gzip"
            ok = COUNTS.add(body, gzipped)
            self._answer(200 if ok else 400, _OK if ok else b'{"success":false}')
        else:
            self._answer(404, b'{"error":"not found"}')

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/stats"):
            self._answer(200, json.dumps(COUNTS.stats()).encode())
        else:
            self._answer(404, b'{"error":"not found"}')


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a sender killed at its timeout: expected, nothing to report
        super().handle_error(request, client_address)


def main() -> None:
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
