"""AvaCloud client under scripted responses (httpx.MockTransport): a real server cannot be made to
send a 429 storm, repeat a page token or drop connections on demand. Time is a fake clock."""

import httpx
import pytest

from avax_assets.avacloud.client import API_KEY_HEADER, ApiPath, AvaCloudClient, ComputeBudget
from avax_assets.core.errors import SourceRefused, SourceUnavailable
from avax_assets.avacloud.settings import AvaCloudSettings
from avax_assets_tests.support import client_settings
from avax_assets_tests.conftest import SPECS_DIR

SUBNETS = ApiPath("/v1/networks/{network}/subnets", cost=20)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client(handler, clock=None, **settings) -> AvaCloudClient:
    clock = clock or FakeClock()
    options = {"data_url": "https://data.test", "backoff_base_s": 1.0, **settings}
    budget = ComputeBudget(options.pop("cu", 6000), clock=clock, sleep=clock.sleep)
    return AvaCloudClient(client_settings(AvaCloudSettings, **options), transport=httpx.MockTransport(handler),
                          budget=budget, sleep=clock.sleep)


def paged(pages: dict) -> callable:
    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("pageToken")
        return httpx.Response(200, json=pages[token])
    return handler


def test_pages_follow_tokens_until_there_is_none():
    pages = {None: {"subnets": [1, 2], "nextPageToken": "a"}, "a": {"subnets": [3], "nextPageToken": "b"},
             "b": {"subnets": [4]}}
    with client(paged(pages)) as api:
        assert [i for page in api.pages(SUBNETS, "subnets", {"network": "mainnet"}) for i in page] == [1, 2, 3, 4]


def test_an_empty_token_ends_paging():
    pages = {None: {"subnets": [1], "nextPageToken": ""}}
    with client(paged(pages)) as api:
        assert list(api.pages(SUBNETS, "subnets", {"network": "mainnet"})) == [[1]]


def test_a_repeated_token_is_refused():
    pages = {None: {"subnets": [1], "nextPageToken": "a"}, "a": {"subnets": [2], "nextPageToken": "a"}}
    with client(paged(pages)) as api, pytest.raises(SourceRefused, match="repeated"):
        list(api.pages(SUBNETS, "subnets", {"network": "mainnet"}))


def test_the_page_cap_stops_a_pager_that_never_ends():
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(200, json={"subnets": [], "nextPageToken": f"t{len(calls)}"})

    with client(handler, max_pages=5) as api, pytest.raises(SourceRefused, match="more than 5 pages"):
        list(api.pages(SUBNETS, "subnets", {"network": "mainnet"}))
    assert len(calls) == 5


@pytest.mark.parametrize("headers, expected_wait", [({"retry-after": "7"}, 7.0), ({"ratelimit-reset": "3"}, 3.0)])
def test_429_waits_as_the_server_says(headers, expected_wait):
    clock = FakeClock()
    answers = iter([httpx.Response(429, headers=headers), httpx.Response(200, json={"subnets": []})])
    with client(lambda request: next(answers), clock) as api:
        api.get(SUBNETS, {"network": "mainnet"})
    assert clock.sleeps == [expected_wait]


def test_429_without_headers_backs_off_exponentially_with_jitter_and_gives_up():
    clock = FakeClock()
    with client(lambda request: httpx.Response(429), clock, max_attempts=4) as api, \
            pytest.raises(SourceUnavailable, match="gave up after 4 attempts \\(last: HTTP 429\\)"):
        api.get(SUBNETS, {"network": "mainnet"})
    assert len(clock.sleeps) == 3
    for attempt, wait in enumerate(clock.sleeps, start=1):
        assert 0.5 * 2 ** (attempt - 1) <= wait <= 2 ** (attempt - 1)


def test_5xx_and_dropped_connections_are_retried_a_bounded_number_of_times():
    answers = iter([httpx.ConnectError("reset"), httpx.Response(503), httpx.Response(200, json={"subnets": [9]})])

    def handler(request):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with client(handler) as api:
        assert api.get(SUBNETS, {"network": "mainnet"}) == {"subnets": [9]}


@pytest.mark.parametrize("message", ["Invalid network", ["pageSize must be <= 100", "bad sortOrder"]])
def test_4xx_raises_the_envelope_message_without_the_key(message):
    seen = {}

    def handler(request):
        seen["key"] = request.headers.get(API_KEY_HEADER)
        return httpx.Response(400, json={"message": message, "statusCode": 400, "error": "Bad Request"})

    with client(handler, api_key="SECRET-KEY") as api, pytest.raises(SourceRefused) as error:
        api.get(SUBNETS, {"network": "nowhere"})
    assert seen["key"] == "SECRET-KEY"
    assert "HTTP 400" in str(error.value) and "SECRET-KEY" not in str(error.value)
    for part in ([message] if isinstance(message, str) else message):
        assert part in str(error.value)


def test_a_burst_never_spends_more_than_the_budget_per_minute():
    clock = FakeClock()
    stamps = []

    def handler(request):
        stamps.append(clock.now)
        return httpx.Response(200, json={"subnets": []})

    with client(handler, clock, cu=100) as api:  # 20 CU per call → at most 5 calls in any minute
        for _ in range(23):
            api.get(SUBNETS, {"network": "mainnet"})
    for start in stamps:
        in_window = [t for t in stamps if start <= t < start + 60]
        assert len(in_window) * 20 <= 2 * 100  # any minute: at most a full bucket plus one minute of refill
    steady = [t for t in stamps if t >= 60]
    for start in steady:
        assert sum(1 for t in steady if start <= t < start + 60) <= 5
    assert clock.now >= (23 * 20 - 100) / 100 * 60 - 1e-6


def test_a_request_larger_than_the_budget_is_refused_at_once():
    with pytest.raises(ValueError, match="can never fit"):
        ComputeBudget(10).spend(20)


def test_endpoint_costs_are_the_specs_execution_weights():
    """Every declared AvaCloud path's cost must hold to the specs (copies in specs/: interface data)."""
    import json

    import avax_assets.catalogue  # noqa: F401 (declares every path the project calls)
    from avax_assets.avacloud.client import declared_paths

    specs = [json.loads((SPECS_DIR / name).read_text())
             for name in ("glacier-data-api.openapi.json", "popsicle-metrics-api.openapi.json")]
    paths = {path: declared.cost for path, declared in declared_paths().items()}
    assert len(paths) >= 11  # every path the datasets call
    for path, cost in paths.items():
        spec = next(s for s in specs if path in s["paths"])
        weight = spec["paths"][path]["get"]["x-execution-weight"]
        assert spec["x-execution-weight-values"][weight] == cost, path


def test_a_garbled_answer_is_asked_again_a_bounded_number_of_times():
    from avax_assets.core.errors import MalformedResponse

    answers = iter([httpx.Response(200, text="<html>bad gateway</html>"), httpx.Response(200, json={"items": []})])
    clock = FakeClock()
    assert client(lambda request: next(answers), clock).get(SUBNETS, {"network": "mainnet"}) == {"items": []}
    assert len(clock.sleeps) == 1
    with pytest.raises(MalformedResponse, match="not JSON.*2 answers like it"):
        garbled = client(lambda request: httpx.Response(200, text='{"items": ['), max_attempts=2)
        garbled.get(SUBNETS, {"network": "mainnet"})
