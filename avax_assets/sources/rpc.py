"""A JSON-RPC client for the C-Chain: batched, concurrent, with bounded retries.

Transient failures (timeouts, connection errors, 5xx, 429) are retried with exponential backoff up to
`max_attempts`; a 429's Retry-After is honoured. Everything else fails at once with an error naming
the method: JSON-RPC error objects, null results, and payloads that are not JSON-RPC at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from avax_assets.sources.retry import jittered_backoff, server_wait

log = logging.getLogger(__name__)

METHOD_NOT_FOUND = -32601


class RpcError(RuntimeError):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, method: str, params: Any, code: Any, message: str) -> None:
        super().__init__(f"JSON-RPC {method}{_short(params)} failed: [{code}] {message}")
        self.method = method
        self.code = code


class RpcMalformedResponse(RuntimeError):
    """The node answered with something that is not a valid JSON-RPC response."""


class RpcNullResult(RpcMalformedResponse):
    """The node returned null where a value was required (e.g. a block it does not have)."""


class RpcUnavailable(RuntimeError):
    """The node kept failing; retries are exhausted."""


@dataclass(frozen=True)
class RpcSettings:
    url: str
    batch_size: int = 40
    concurrency: int = 4
    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0


@dataclass(frozen=True)
class Call:
    method: str
    params: list


def redact_url(url: str) -> str:
    """scheme://host[:port] only: provider URLs often carry an API key in the path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def _short(params: Any, limit: int = 120) -> str:
    text = repr(params)
    return f"({text[:limit]}{'…' if len(text) > limit else ''})"


class JsonRpcClient:
    def __init__(self, settings: RpcSettings, transport: httpx.BaseTransport | None = None) -> None:
        if settings.batch_size < 1 or settings.concurrency < 1 or settings.max_attempts < 1:
            raise ValueError("batch_size, concurrency and max_attempts must be >= 1")
        self.settings = settings
        self.endpoint = redact_url(settings.url)
        limits = httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency)
        self._http = httpx.Client(timeout=settings.timeout_s, limits=limits, transport=transport)
        self._pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="rpc")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def __enter__(self) -> JsonRpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, params: list, allow_null: bool = False) -> Any:
        return self.batch([Call(method, params)], allow_null=allow_null)[0]

    def batch(self, calls: Sequence[Call], allow_null: bool = False) -> list[Any]:
        """Results in the order of calls; batches of `batch_size`, up to `concurrency` in flight."""
        size = self.settings.batch_size
        chunks = [calls[i : i + size] for i in range(0, len(calls), size)]
        if len(chunks) <= 1:
            results = [self._post_batch(chunk, allow_null) for chunk in chunks]
        else:
            results = list(self._pool.map(lambda chunk: self._post_batch(chunk, allow_null), chunks))
        return [item for chunk_results in results for item in chunk_results]

    def _post_batch(self, calls: Sequence[Call], allow_null: bool) -> list[Any]:
        payload = [{"jsonrpc": "2.0", "id": i, "method": c.method, "params": c.params} for i, c in enumerate(calls)]
        body = self._post_with_retries(payload, calls[0].method)
        return self._results(body, calls, allow_null)

    def _post_with_retries(self, payload: list[dict], method: str) -> Any:
        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                response = self._http.post(self.settings.url, json=payload)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                problem, wait = f"{type(exc).__name__}", self._backoff(attempt)
            else:
                if response.status_code == 200:
                    return self._decode(response, method)
                if response.status_code != 429 and response.status_code < 500:
                    raise RpcError(method, f"batch of {len(payload)}", f"HTTP {response.status_code}",
                                   response.text[:200])
                problem = f"HTTP {response.status_code}"
                wait = server_wait(response) or self._backoff(attempt)
            if attempt == attempts:
                raise RpcUnavailable(
                    f"JSON-RPC {method} at {self.endpoint}: gave up after {attempts} attempts (last: {problem})"
                )
            log.warning("JSON-RPC %s at %s: %s, retry %d/%d in %.1fs",
                        method, self.endpoint, problem, attempt, attempts - 1, wait)
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        return jittered_backoff(attempt, self.settings.backoff_base_s, self.settings.backoff_max_s)

    def _decode(self, response: httpx.Response, method: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise RpcMalformedResponse(
                f"JSON-RPC {method} at {self.endpoint}: response is not JSON: {response.text[:120]!r}"
            ) from None

    def _results(self, body: Any, calls: Sequence[Call], allow_null: bool) -> list[Any]:
        method = calls[0].method
        if isinstance(body, dict) and "error" in body:
            error = body["error"] if isinstance(body["error"], dict) else {"message": str(body["error"])}
            raise RpcError(method, f"batch of {len(calls)}", error.get("code"), str(error.get("message")))
        if not isinstance(body, list):
            raise RpcMalformedResponse(f"JSON-RPC {method} at {self.endpoint}: expected a batch array, got {_kind(body)}")
        by_id: dict[int, dict] = {}
        for item in body:
            if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                raise RpcMalformedResponse(f"JSON-RPC {method} at {self.endpoint}: batch item without id: {_short(item)}")
            by_id[item["id"]] = item
        results = []
        for i, call in enumerate(calls):
            item = by_id.get(i)
            if item is None:
                raise RpcMalformedResponse(f"JSON-RPC {call.method}{_short(call.params)}: no response in batch")
            if item.get("error") is not None:
                error = item["error"] if isinstance(item["error"], dict) else {"message": str(item["error"])}
                raise RpcError(call.method, call.params, error.get("code"), str(error.get("message")))
            if "result" not in item:
                raise RpcMalformedResponse(f"JSON-RPC {call.method}{_short(call.params)}: response has no result")
            if item["result"] is None and not allow_null:
                raise RpcNullResult(f"JSON-RPC {call.method}{_short(call.params)}: node returned null")
            results.append(item["result"])
        return results


def _kind(value: Any) -> str:
    return type(value).__name__

