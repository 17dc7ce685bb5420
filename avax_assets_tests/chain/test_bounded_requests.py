"""Requests are bounded and their errors hold no secrets, against FAKE servers on loopback (on purpose: a
real node cannot be made to trickle its answer, send a huge one or echo the request URL on demand).

- a valid answer trickled byte by byte is cut off at the request's deadline, not served after minutes;
- an answer over the maximum response size is refused without being read into memory;
- a server that echoes the request URL (with its key) in an error body never puts the key in the error.
"""

import json

import pytest

from avax_assets.avacloud.client import ApiPath, AvaCloudClient, ComputeBudget
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.core.errors import RpcError, SourceRefused, SourceUnavailable
from avax_assets.avacloud.settings import AvaCloudSettings
from avax_assets.chain.settings import RpcSettings
from avax_assets.subgraphs.client import META_QUERY, SubgraphClient
from avax_assets_dev.local.http import BackgroundServer, JsonHandler
from avax_assets_tests.support import client_settings

SECRET = "k3y-0f-the-provider"
ANSWER = json.dumps([{"jsonrpc": "2.0", "id": 0, "result": "0x10"}]).encode()


class Misbehaving(JsonHandler):
    mode = "trickle"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._misbehave()

    def do_GET(self) -> None:
        self._misbehave()

    def _misbehave(self) -> None:
        if self.mode == "trickle":  # a valid answer, one byte every 0.1 s (4.4 s in all)
            self.trickle(ANSWER, pause_s=0.1)
        elif self.mode == "huge":  # 4 MiB of junk in one field, no content-length
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'[{"jsonrpc": "2.0", "id": 0, "result": "' + b"f" * 4 * 2**20 + b'"}]')
        else:  # echo the request line, key included
            self.reply(400, {"message": f"bad request: http://{self.headers['Host']}{self.path} was refused"})


@pytest.fixture
def server():
    with BackgroundServer(Misbehaving) as serving:
        yield serving


def rpc(server, **patience) -> JsonRpcClient:
    options = {"max_attempts": 1, "deadline_s": 0.5, "max_response_bytes": 2**20, **patience}
    return JsonRpcClient(client_settings(RpcSettings, url=f"{server.base_url}/ext/bc/C/rpc?key={SECRET}", **options))


def test_a_trickled_answer_is_cut_off_at_the_deadline(server):
    Misbehaving.mode = "trickle"
    with rpc(server) as client, pytest.raises(SourceUnavailable, match="within the 0.5 s deadline") as error:
        client.call("eth_blockNumber", [])
    assert SECRET not in str(error.value)


def test_a_deadline_long_enough_lets_the_same_answer_through(server):
    Misbehaving.mode = "trickle"
    with rpc(server, deadline_s=30) as client:
        assert client.call("eth_blockNumber", []) == "0x10"


def test_an_answer_over_the_maximum_size_is_refused_naming_the_setting(server):
    Misbehaving.mode = "huge"
    with rpc(server) as client, pytest.raises(SourceRefused, match="over the maximum response size of 1 MiB.*"
                                                                  "AVAX_RPC_MAX_RESPONSE_MB"):
        client.call("eth_blockNumber", [])


def test_a_url_echoed_in_an_error_body_never_reaches_the_error(server):
    Misbehaving.mode = "echo"
    with rpc(server) as client, pytest.raises(RpcError) as error:
        client.call("eth_blockNumber", [])
    assert "was refused" in str(error.value) and SECRET not in str(error.value)

    avacloud = AvaCloudClient(client_settings(AvaCloudSettings, data_url=server.base_url), budget=ComputeBudget(100))
    with avacloud, pytest.raises(SourceRefused) as error:
        avacloud.get(ApiPath("/v1/chains", cost=1), query={"apiKey": SECRET})
    assert "HTTP 400" in str(error.value) and SECRET not in str(error.value)

    graph = SubgraphClient(f"{server.base_url}/subgraphs/id/{SECRET}")
    with graph, pytest.raises(SourceRefused) as error:
        graph.query(META_QUERY)
    assert "HTTP 400" in str(error.value) and SECRET not in str(error.value)
