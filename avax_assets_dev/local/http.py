"""What the project's local HTTP servers (fixture server, subgraph server, test proxy) share: a
handler that answers JSON quietly, and a threaded server on loopback run in the background."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonHandler(BaseHTTPRequestHandler):
    def reply(self, status: int, body: dict | list | bytes) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def trickle(self, payload: bytes, pause_s: float) -> None:
        """Answer 200 with `payload` one byte at a time, `pause_s` apart (a FAKE slow server, for tests)."""
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        try:
            for byte in payload:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(pause_s)
        except OSError:  # the client hung up
            pass

    def log_message(self, *args) -> None:
        pass


class BackgroundServer:
    """Serves `handler` on 127.0.0.1:`port` (0: any free port) in a daemon thread while entered."""

    def __init__(self, handler: type[JsonHandler], port: int = 0) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait(self) -> None:
        """Block until the server stops (for command-line use)."""
        self._thread.join()
