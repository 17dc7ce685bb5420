"""JSON-RPC client behaviour under faults. The transport is scripted (httpx.MockTransport): a real
node cannot be made to answer 503 forever, send a 429 storm or return garbage on demand."""

import json
import time

import httpx
import pytest

from avax_assets.chain.rpc import Call, JsonRpcClient
from avax_assets.core.errors import MalformedResponse, NullResult, RpcError, SourceUnavailable
from avax_assets.core.http import redact_url, server_wait
from avax_assets.chain.settings import RpcSettings
from avax_assets_tests.support import client_settings


def client(handler, **settings) -> JsonRpcClient:
    options = {"url": "http://node.test/ext/bc/C/rpc?key=SECRET", "backoff_base_s": 0.001, **settings}
    return JsonRpcClient(client_settings(RpcSettings, **options), transport=httpx.MockTransport(handler))


def echo_results(request: httpx.Request) -> httpx.Response:
    payload = json.loads(request.content)
    return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": c["id"], "result": c["params"][0]} for c in payload])


def test_batches_are_split_and_results_keep_call_order():
    sizes = []

    def handler(request):
        sizes.append(len(json.loads(request.content)))
        return echo_results(request)

    with client(handler, batch_size=4, concurrency=3) as rpc:
        results = rpc.batch([Call("echo", [i]) for i in range(10)])
    assert results == list(range(10))
    assert sorted(sizes) == [2, 4, 4]


def test_out_of_order_batch_responses_are_matched_by_id():
    def handler(request):
        response = echo_results(request)
        return httpx.Response(200, json=list(reversed(response.json())))

    with client(handler) as rpc:
        assert rpc.batch([Call("echo", [i]) for i in range(5)]) == [0, 1, 2, 3, 4]


def test_5xx_is_retried_then_succeeds():
    attempts = []

    def handler(request):
        attempts.append(1)
        return httpx.Response(502) if len(attempts) < 3 else echo_results(request)

    with client(handler, max_attempts=5) as rpc:
        assert rpc.call("echo", ["ok"]) == "ok"
    assert len(attempts) == 3


def test_retries_are_capped_and_the_error_hides_the_url_secret():
    attempts = []

    def handler(request):
        attempts.append(1)
        raise httpx.ConnectError("connection refused")

    with client(handler, max_attempts=4) as rpc, pytest.raises(SourceUnavailable) as error:
        rpc.call("eth_blockNumber", [])
    assert len(attempts) == 4
    assert "gave up after 4 attempts" in str(error.value)
    assert "SECRET" not in str(error.value)


def test_429_honours_retry_after():
    stamps = []

    def handler(request):
        stamps.append(time.monotonic())
        if len(stamps) == 1:
            return httpx.Response(429, headers={"retry-after": "0.3"})
        return echo_results(request)

    with client(handler) as rpc:
        assert rpc.call("echo", [1]) == 1
    assert stamps[1] - stamps[0] >= 0.3


def test_json_rpc_error_object_names_method_and_code():
    def handler(request):
        call = json.loads(request.content)[0]
        return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": call["id"],
                                          "error": {"code": -32000, "message": "header not found"}}])

    with client(handler, max_attempts=2) as rpc, \
            pytest.raises(RpcError, match=r"eth_getBlockByNumber.*-32000.*header not found.*2 answers like it"):
        rpc.call("eth_getBlockByNumber", ["0x1", False])


@pytest.mark.parametrize("error", [{"code": -32005, "message": "request rate exceeded"},
                                   {"code": -32000, "message": "header not found"},
                                   {"code": -32603, "message": "Too Many Requests"},
                                   {"code": -32000, "message": "execution timeout"},
                                   {"code": -32000, "message": "context deadline exceeded"}])
def test_a_busy_or_lagging_backends_error_object_is_asked_again(error):
    attempts = []

    def handler(request):
        attempts.append(1)
        if len(attempts) == 1:
            call = json.loads(request.content)[0]
            return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": call["id"], "error": error}])
        return echo_results(request)

    with client(handler) as rpc:
        assert rpc.call("echo", [7]) == 7
    assert len(attempts) == 2


def test_any_other_error_object_is_the_nodes_answer_and_not_asked_again():
    attempts = []

    def handler(request):
        attempts.append(1)
        call = json.loads(request.content)[0]
        return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": call["id"],
                                          "error": {"code": -32601, "message": "the method does not exist"}}])

    with client(handler) as rpc, pytest.raises(RpcError, match="-32601"):
        rpc.call("eth_getBlockReceipts", ["0x1"])
    assert len(attempts) == 1


@pytest.mark.parametrize("body", [b"<html>bad gateway</html>", b'[{"jsonrpc": "2.0", "id": 0, "res'])
def test_an_answer_that_is_not_json_is_asked_again_a_bounded_number_of_times(body):
    attempts = []

    def handler(request):
        attempts.append(1)
        return httpx.Response(200, content=body)

    with client(handler, max_attempts=3) as rpc, pytest.raises(MalformedResponse, match="not JSON") as failed:
        rpc.call("eth_blockNumber", [])
    assert len(attempts) == 3 and "3 answers like it" in str(failed.value)
    assert "SECRET" not in str(failed.value)


def test_a_garbled_answer_once_is_survived():
    answers = iter([httpx.Response(200, content=b'[{"jsonrpc": "2.0", "id": 0, "res')])

    def handler(request):
        return next(answers, None) or echo_results(request)

    with client(handler) as rpc:
        assert rpc.call("echo", [5]) == 5


@pytest.mark.parametrize("body, expected", [
    (b'{"jsonrpc": "2.0", "result": 1}', "expected a batch array"),
    (b'[{"jsonrpc": "2.0", "result": 1}]', "without id"),
    (b'[{"jsonrpc": "2.0", "id": 7, "result": 1}]', "no response in batch"),
])
def test_malformed_payloads_fail_clearly_without_retrying(body, expected):
    attempts = []

    def handler(request):
        attempts.append(1)
        return httpx.Response(200, content=body)

    with client(handler) as rpc, pytest.raises(MalformedResponse, match=expected):
        rpc.call("eth_blockNumber", [])
    assert len(attempts) == 1


def test_null_result_is_an_error_unless_allowed():
    def handler(request):
        call = json.loads(request.content)[0]
        return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": call["id"], "result": None}])

    with client(handler) as rpc:
        with pytest.raises(NullResult, match="eth_getBlockByNumber"):
            rpc.call("eth_getBlockByNumber", ["0x99999999", False])
        assert rpc.call("evm_mine", [], allow_null=True) is None


def test_4xx_is_not_retried():
    attempts = []

    def handler(request):
        attempts.append(1)
        return httpx.Response(401, text="unauthorized")

    with client(handler) as rpc, pytest.raises(RpcError, match="HTTP 401.*refused the credentials: check AVAX_RPC_URL"):
        rpc.call("eth_blockNumber", [])
    assert len(attempts) == 1


def test_a_wrong_path_names_the_url_setting():
    with client(lambda request: httpx.Response(404, text="404 page not found")) as rpc, \
            pytest.raises(RpcError, match=r"HTTP 404.*check AVAX_RPC_URL \(a wrong path"):
        rpc.call("eth_blockNumber", [])


def test_redact_url_keeps_only_scheme_host_port():
    assert redact_url("https://user:pw@rpc.example.com:8443/v1/KEY?token=x") == "https://rpc.example.com:8443"


def test_a_url_ending_a_sentence_is_redacted_without_failing():
    from avax_assets.core.http import redacted

    said = "node http://127.0.0.1:18946: connection refused"
    assert redacted(said) == said
    assert redact_url("http://host:port-ish/x") == "http://host"


@pytest.mark.parametrize("headers, expected", [
    ({"retry-after": "2.5"}, 2.5), ({"retry-after": "-5"}, 0.0), ({"retry-after": "soon"}, None),
    ({"retry-after": "99999"}, 300.0), ({}, None)])
def test_server_wait_is_parsed_and_clamped(headers, expected):
    assert server_wait(httpx.Response(429, headers=headers)) == expected


def test_a_later_header_is_used_when_the_first_is_missing_or_garbled():
    response = httpx.Response(429, headers={"retry-after": "soon", "ratelimit-reset": "4"})
    assert server_wait(response, ("retry-after", "ratelimit-reset")) == 4.0


def test_a_retry_after_longer_than_the_deadline_waits_the_deadline_and_says_so(caplog):
    from avax_assets.core.http import Patience, send_with_retries

    slept = []
    answers = iter([httpx.Response(429, headers={"retry-after": "120"}), httpx.Response(200)])
    patience = Patience(timeout_s=1, max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.01, deadline_s=2.0,
                        max_response_bytes=1024)
    with caplog.at_level("WARNING"):
        send_with_retries(lambda: next(answers), what="GET /x", patience=patience, sleep=slept.append)
    assert slept == [2.0]
    assert "the server asked for 120 s; waiting the 2 s deadline at most" in caplog.text


def test_a_node_that_refuses_connections_is_named_by_its_variable():
    settings = RpcSettings(url="http://127.0.0.1:9/ext/bc/C/rpc", max_attempts=2, backoff_base_s=0.001)
    with JsonRpcClient(settings) as rpc, pytest.raises(SourceUnavailable) as failed:
        rpc.call("eth_blockNumber", [])
    assert "check AVAX_RPC_URL" in str(failed.value) and str(failed.value).count("\n") == 0


@pytest.mark.parametrize("status", [501, 505, 404])
def test_an_answer_that_will_not_change_is_not_asked_again(status):
    attempts = []

    def handler(request):
        attempts.append(1)
        return httpx.Response(status, text="no")

    with client(handler) as rpc, pytest.raises(RpcError, match=f"HTTP {status}"):
        rpc.call("eth_blockNumber", [])
    assert len(attempts) == 1
