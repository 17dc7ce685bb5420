"""Secrets never reach an error, a log line or metadata: a provider that echoes the key it was given (in a 401
body, a JSON-RPC error, a rate-limit answer) is scripted (httpx.MockTransport): no real provider echoes on
demand."""

import json
import logging

import httpx
import pytest

from avax_assets.avacloud.client import AvaCloudClient
from avax_assets.avacloud.settings import AvaCloudSettings
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.chain.settings import RpcSettings
from avax_assets.core.errors import AvaxError
from avax_assets.core.http import Scrubbing, redacted

PATH_KEY = "pathk3y0123456789abcdef"
QUERY_KEY = "queryk3y9876543210"
API_KEY = "apik3y-glacier-5555"
URL = f"https://node.example.com/{PATH_KEY}/ext/bc/C/rpc?apikey={QUERY_KEY}"


def echoing(request: httpx.Request) -> httpx.Response:
    """Echoes everything it was sent: the URL, the key header, in whatever answer it gives."""
    told = f"{request.url} {request.headers.get('x-glacier-api-key', '')}"
    if request.method == "POST":
        calls = json.loads(request.content)
        if calls[0]["method"] == "eth_blockNumber":
            return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": 0, "error": {
                "code": -32001, "message": f"key {PATH_KEY} / {QUERY_KEY} over quota for {told}"}}])
        if calls[0]["method"] == "eth_chainId":
            return httpx.Response(429, text=f"slow down {told}")
        return httpx.Response(401, text=f"unauthorized: {told}")
    return httpx.Response(401, json={"message": f"invalid api key {API_KEY} for {told}"})


def outputs(caplog, exc: BaseException) -> str:
    return caplog.text + str(exc) + repr(exc.args)


@pytest.mark.parametrize("method", ["eth_blockNumber", "eth_getBalance", "eth_chainId"])
def test_an_echoing_node_never_gets_its_key_into_an_error_or_a_log(caplog, method):
    settings = RpcSettings(url=URL, max_attempts=2, backoff_base_s=0.001, backoff_max_s=0.001)
    caplog.set_level(logging.DEBUG)  # every logger, httpx's own included
    with JsonRpcClient(settings, transport=httpx.MockTransport(echoing)) as rpc, \
            pytest.raises(AvaxError) as failed:
        rpc.call(method, [])
    text = outputs(caplog, failed.value)
    assert "node.example.com" in text  # the host is named
    for secret in (PATH_KEY, QUERY_KEY):
        assert secret not in text


def test_an_echoing_api_never_gets_its_key_into_an_error_or_a_log(caplog):
    from avax_assets.avacloud.snapshots import CHAINS_PATH

    caplog.set_level(logging.DEBUG)
    settings = AvaCloudSettings(data_url="https://data.example.com", api_key=API_KEY, max_attempts=1)
    with AvaCloudClient(settings, transport=httpx.MockTransport(echoing)) as client, \
            pytest.raises(AvaxError) as failed:
        client.get(CHAINS_PATH)
    assert API_KEY not in outputs(caplog, failed.value)


def test_log_lines_are_scrubbed_by_the_filter():
    RpcSettings(url=URL)  # a secret setting is remembered when its settings are built
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "asking %s with %s", (URL, QUERY_KEY), None)
    Scrubbing().filter(record)
    assert PATH_KEY not in record.getMessage() and QUERY_KEY not in record.getMessage()
    assert redacted(f"echo {PATH_KEY}") == "echo ***"
