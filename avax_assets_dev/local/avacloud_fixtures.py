"""A local server for the AvaCloud paths the project reads. Data API lists come from recorded-shape
fixtures (fixtures/avacloud.json), with real cursor paging: page N+1 is served for the token page N
carried. Metrics API series are generated deterministically for the requested window and interval,
paged by pageSize. Given a node's URL, it also serves the per-block C-Chain paths from that node
(local/data_api_chain.py). The fixture P-Chain (local/p_chain_fixtures.py) is served as the Data API's
primary-network lists and as a node's platform API (`POST /ext/bc/P`, local/p_chain_api.py). The tests
validate what it serves against the official specs. Used by the offline demo and tests; it is a fixture
server, not the API: nothing else is implemented.

    python -m avax_assets_dev.local.avacloud_fixtures --port 8440
"""

from __future__ import annotations

import argparse
import json
import re
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from avax_assets_dev.local.data_api_chain import CHAIN_PATH, NodeAsDataApi
from avax_assets_dev.local.http import BackgroundServer, JsonHandler
from avax_assets_dev.local.p_chain_api import PLATFORM_PATH, PChainFixtures

FIXTURES = Path(__file__).parent / "fixtures" / "avacloud.json"


class AvaCloudFixtureServer(BackgroundServer):
    def __init__(self, port: int = 0, fixtures: Path = FIXTURES, chain_rpc_url: str | None = None) -> None:
        pages = json.loads(fixtures.read_text())
        chain = NodeAsDataApi(chain_rpc_url) if chain_rpc_url else None
        p_chain = PChainFixtures(pages)
        self.requests: list[str] = []
        server = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                server.requests.append(f"POST {self.path}")
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                if urlsplit(self.path).path != PLATFORM_PATH or not isinstance(body, dict):
                    self.reply(404, {"message": f"no fixture for POST {self.path}", "statusCode": 404})
                    return
                self.reply(200, p_chain.call(body))

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                server.requests.append(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                metric = METRIC_PATH.match(url.path)
                if metric:
                    self.reply(200, metric_page(metric["chain"], metric["metric"], query))
                    return
                if chain and CHAIN_PATH.match(url.path):
                    self.reply(*chain.route(url.path, query))
                    return
                listed = p_chain.get(url.path, query)
                if listed:
                    self.reply(*listed)
                    return
                token = query.get("pageToken")
                book = pages.get(fixture_key(url.path, query))
                index = 0 if token is None else _page_index(book, token)
                if book is None or index is None:
                    self.reply(404 if book is None else 400,
                               {"message": f"no fixture for {url.path}" if book is None else "invalid pageToken",
                                "statusCode": 404 if book is None else 400, "error": "Not Found"})
                    return
                self.reply(200, book[index])

        super().__init__(Handler, port)
        self.url = self.base_url


DISCRIMINATORS = ("validationStatus", "delegationStatus")


def fixture_key(path: str, query: dict) -> str:
    """Fixtures of lists discriminated by a status are filed under `path?status=value`."""
    chosen = [f"{k}={query[k]}" for k in DISCRIMINATORS if k in query]
    return f"{path}?{'&'.join(chosen)}" if chosen else path


METRIC_PATH = re.compile(r"^/v2/chains/(?P<chain>[^/]+)/metrics/(?P<metric>[^/]+)$")
STEPS = {"hour": 3_600, "day": 86_400}


def metric_value(chain: str, metric: str, timestamp: int) -> str:
    """A deterministic value with the shape of the metric: counts are integers (some above 2^53),
    rates and prices carry decimals."""
    seed = zlib.crc32(f"{chain}/{metric}/{timestamp}".encode())
    if metric.startswith(("avg", "max")):
        return f"{seed % 100_000}.{seed % 997:03d}"
    if metric in ("gasUsed", "feesPaid") or metric.startswith("cumulative"):
        return str(2**60 + seed)
    return str(seed % 50_000)


def metric_page(chain: str, metric: str, query: dict) -> dict:
    step = STEPS[query.get("timeInterval", "day")]
    start, end = int(query["startTimestamp"]), int(query["endTimestamp"])
    stamps = list(range(start - start % step, end + 1, step))
    offset, size = int(query.get("pageToken") or 0), int(query.get("pageSize") or 100)
    page = {"results": [{"value": json.loads(metric_value(chain, metric, t)), "timestamp": t}
                        for t in stamps[offset:offset + size]]}
    if offset + size < len(stamps):
        page["nextPageToken"] = str(offset + size)
    return page


def _page_index(book: list[dict] | None, token: str) -> int | None:
    for index, page in enumerate(book or []):
        if page.get("nextPageToken") == token:
            return index + 1
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8440)
    parser.add_argument("--chain-rpc-url", help="serve the per-block C-Chain paths from this node")
    args = parser.parse_args()
    with AvaCloudFixtureServer(args.port, chain_rpc_url=args.chain_rpc_url) as server:
        print(f"serving AvaCloud fixtures on {server.url}")
        server.wait()


if __name__ == "__main__":
    main()
