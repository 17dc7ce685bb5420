"""The AvaCloud client against Prism serving the official specs (copies in specs/): every request the
datasets make is valid by the spec, paging terminates although Prism always returns a token, and
forced 429 / 503 answers drive the bounded retry paths."""

import json

import httpx
import pytest

from avax_assets_dev.local.services import Prism
from avax_assets.avacloud.bridges import ICM_PATH
from avax_assets.avacloud.client import AvaCloudClient, ComputeBudget
from avax_assets.avacloud.metrics import MAX_PAGE_SIZE, METRIC_PATH
from avax_assets.avacloud.snapshots import SNAPSHOTS
from avax_assets.chain.data_api import DataApiChainReader
from avax_assets.core.errors import SourceRefused, SourceUnavailable
from avax_assets.avacloud.settings import AvaCloudSettings
from avax_assets_tests.support import client_settings
from avax_assets_tests.conftest import SPECS_DIR, TEST_HOME, service_port




@pytest.fixture(scope="module")
def prism():
    servers = {"data": Prism("prism-data", service_port(14010), TEST_HOME,
                             SPECS_DIR / "glacier-data-api.openapi.json"),
               "metrics": Prism("prism-metrics", service_port(14011), TEST_HOME,
                                SPECS_DIR / "popsicle-metrics-api.openapi.json")}
    started = [s for s in servers.values() if not (s.pid() and s.is_ready())]
    try:
        for server in servers.values():
            server.start()
        yield servers
    finally:
        for server in started:
            server.stop()


class Recording(httpx.HTTPTransport):
    """Records every exchange; optionally asks Prism for a given status (`Prefer: code=…`)."""

    def __init__(self, prefer: str | None = None) -> None:
        super().__init__()
        self.prefer = prefer
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.prefer:
            request.headers["Prefer"] = self.prefer
        response = super().handle_request(request)
        self.exchanges.append((request, response))
        return response


def client(prism, transport, **settings) -> AvaCloudClient:
    options = {"data_url": prism["data"].url, "metrics_url": prism["metrics"].url, "max_pages": 3,
               "backoff_base_s": 0.01, "backoff_max_s": 0.05, **settings}
    return AvaCloudClient(client_settings(AvaCloudSettings, **options), transport=transport,
                          budget=ComputeBudget(100_000), sleep=lambda s: None)


def assert_valid(transport: Recording) -> None:
    """No request drew a 400 or a request violation. (Prism also reports where its own answer, built from
    the spec's examples, breaks the spec — e.g. the ICM example's `rewardDetails.price.value` — which
    says nothing about our requests.)"""
    assert transport.exchanges
    for request, response in transport.exchanges:
        violations = json.loads(response.headers.get("sl-violations") or "[]")
        ours = [v for v in violations if v.get("location", [None])[0] == "request"]
        assert response.status_code != 400 and not ours, f"{request.url}: {response.status_code} {ours}"


ON_MAINNET = {"network": "mainnet"}
SUBNETS = next(s for s in SNAPSHOTS if s.dataset.name == "subnets")


def query_of(endpoint) -> dict:
    return {k: "mainnet" if v == "{network}" else v for k, v in endpoint.query.items()}


@pytest.mark.parametrize("dataset, index", [(s.dataset.name, i) for s in SNAPSHOTS for i in range(len(s.endpoints))])
def test_network_requests_are_valid_and_paging_terminates(prism, dataset, index):
    transport = Recording()
    endpoint = next(s for s in SNAPSHOTS if s.dataset.name == dataset).endpoints[index]
    with client(prism, transport) as api:
        if endpoint.paged:
            with pytest.raises(SourceRefused):  # Prism always returns a token: the guard ends the loop
                list(api.pages(endpoint.path, endpoint.items_key, ON_MAINNET, query_of(endpoint)))
            assert len(transport.exchanges) <= 3
        else:
            assert endpoint.items_key in api.get(endpoint.path, ON_MAINNET, query_of(endpoint))
    assert_valid(transport)


def test_metrics_requests_are_valid(prism):
    transport = Recording()
    query = {"startTimestamp": 1717200000, "endTimestamp": 1717286399, "timeInterval": "hour"}
    with client(prism, transport) as api, pytest.raises(SourceRefused):
        list(api.pages(METRIC_PATH, "results", {"chainId": "43114", "metric": "txCount"}, query,
                       page_size=MAX_PAGE_SIZE))
    assert_valid(transport)


@pytest.mark.parametrize("code", ["429", "503"])
def test_forced_errors_are_retried_a_bounded_number_of_times(prism, code):
    transport = Recording(prefer=f"code={code}")
    (endpoint,) = SUBNETS.endpoints
    with client(prism, transport, max_attempts=3) as api, \
            pytest.raises(SourceUnavailable, match=f"gave up after 3 attempts \\(last: HTTP {code}\\)"):
        api.get(endpoint.path, ON_MAINNET, {"pageSize": 10})
    assert [r.status_code for _, r in transport.exchanges] == [int(code)] * 3


def test_icm_message_requests_are_valid(prism):
    transport = Recording()
    with client(prism, transport) as api, pytest.raises(SourceRefused):
        list(api.pages(ICM_PATH, "messages", query={"network": "mainnet"}))
    assert_valid(transport)


def test_a_request_outside_the_spec_is_caught(prism):
    """The check above can fail: a pageSize over the spec's maximum draws a request violation."""
    transport = Recording()
    (endpoint,) = SUBNETS.endpoints
    with client(prism, transport) as api, pytest.raises(SourceRefused, match="HTTP 4"):
        api.get(endpoint.path, ON_MAINNET, {"pageSize": 100_000})
    with pytest.raises(AssertionError, match="pageSize"):
        assert_valid(transport)


def test_per_block_chain_requests_are_valid(prism):
    """The Data API source of blocks and transactions: latest block, one block, a block's transactions
    (pageSize must be sent: the spec's default is 0)."""
    transport = Recording()
    with client(prism, transport) as api:
        reader = DataApiChainReader(api, concurrency=1)
        reader.latest_block()
        assert reader.block(1_000_000)["blockHash"]
        with pytest.raises(SourceRefused):
            reader.transactions(1_000_000)
    assert_valid(transport)
    assert all("pageSize=" in str(request.url) for request, _ in transport.exchanges
               if str(request.url.path).endswith("/transactions"))


def test_p_chain_requests_are_valid(prism):
    """The P-Chain's day (blocks, transactions: p-chain, bounded by start and end timestamps) and its rewards (by
    addresses, newest first)."""
    from avax_assets.primary.data_api import BLOCKS_PATH, REWARDS_PATH, TRANSACTIONS_PATH, day_query

    transport = Recording()
    on = {"network": "mainnet", "blockchainId": "p-chain"}
    rewards = {"addresses": "avax1x8kddk8l2p0prchnyddnjn7jly2t0szdktqusd", "sortOrder": "desc"}
    with client(prism, transport) as api:
        for path, key, query in ((BLOCKS_PATH, "blocks", day_query("2024-06-01")),
                                 (TRANSACTIONS_PATH, "transactions", day_query("2024-06-01")),
                                 (REWARDS_PATH, "historicalRewards", rewards)):
            with pytest.raises(SourceRefused):  # Prism always returns a token: the guard ends the loop
                list(api.pages(path, key, on, query))
    assert_valid(transport)
    assert {str(request.url.path) for request, _ in transport.exchanges} == {
        "/v1/networks/mainnet/blockchains/p-chain/blocks", "/v1/networks/mainnet/blockchains/p-chain/transactions",
        "/v1/networks/mainnet/rewards"}
