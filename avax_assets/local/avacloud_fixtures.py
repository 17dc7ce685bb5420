"""A local server for the AvaCloud Data API paths the project reads, serving recorded-shape fixtures
(fixtures/avacloud.json, validated against the official spec by the tests) with real cursor paging:
page N+1 is served for the token the page N response carried. Used by the offline demo and tests;
it is a fixture server, not the API: nothing else is implemented.

    python -m avax_assets.local.avacloud_fixtures --port 8440
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "avacloud.json"


class AvaCloudFixtureServer:
    def __init__(self, port: int = 0, fixtures: Path = FIXTURES) -> None:
        pages = json.loads(fixtures.read_text())
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                server.requests.append(self.path)
                token = parse_qs(url.query).get("pageToken", [None])[0]
                book = pages.get(url.path)
                index = 0 if token is None else _page_index(book, token)
                if book is None or index is None:
                    self._reply(404 if book is None else 400,
                                {"message": f"no fixture for {url.path}" if book is None else "invalid pageToken",
                                 "statusCode": 404 if book is None else 400, "error": "Not Found"})
                    return
                self._reply(200, book[index])

            def _reply(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AvaCloudFixtureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _page_index(book: list[dict] | None, token: str) -> int | None:
    for index, page in enumerate(book or []):
        if page.get("nextPageToken") == token:
            return index + 1
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8440)
    args = parser.parse_args()
    with AvaCloudFixtureServer(args.port) as server:
        print(f"serving AvaCloud fixtures on {server.url}")
        server._thread.join()


if __name__ == "__main__":
    main()
