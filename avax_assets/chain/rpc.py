"""A JSON-RPC client for the C-Chain: batched, concurrent, with the shared bounded retries (core/http.py).

Transient failures (timeouts, connection errors, 5xx, 429) are retried; everything else fails at once
with an error naming the method: JSON-RPC error objects, null results, and payloads that are not
JSON-RPC at all. The URL is shown as scheme://host[:port] only: provider URLs carry keys.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

import httpx
import msgspec

from avax_assets.core.errors import MalformedResponse, NullResult, RpcError, SettingError, short
from avax_assets.core.http import (asked_until_well_formed, bounded, http_client, redact_url, redacted,
                                   refusal_hint, send_with_retries)
from avax_assets.chain.settings import RpcSettings

METHOD_NOT_FOUND = -32601


T = TypeVar("T")


class Reply(msgspec.Struct, Generic[T]):
    """One JSON-RPC answer, its result decoded straight into `T` (a caller's shape: only the fields it reads)."""

    id: Any = msgspec.UNSET
    result: T | msgspec.UnsetType = msgspec.UNSET  # a null result does not fit: decoded plain, judged below
    error: Any = msgspec.UNSET


@lru_cache(maxsize=None)
def _decoder(shape: Any) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(list[Reply[shape]])


def as_plain(value: msgspec.Struct) -> dict:
    """A decoded shape as the dict a generic decode gives, with only its fields (absent ones stay absent), each
    under the node's key (a field renamed in the shape, like a receipt's `from`, too)."""
    keys = dict(zip(value.__struct_fields__, value.__struct_encode_fields__, strict=True))
    return {keys[k]: v for k, v in msgspec.structs.asdict(value).items() if v is not msgspec.UNSET}


@dataclass(frozen=True)
class Call:
    method: str
    params: list


@dataclass(frozen=True)
class CallError:
    """One call's JSON-RPC error object, kept in place of its result (`batch(..., keep_errors=True)`)."""

    code: Any
    message: str
    data: Any = None


log = logging.getLogger(__name__)


# Error objects a load-balanced provider answers for a passing cause: its rate limit (EIP-1474 -32005, or said
# in words), a backend that has not seen the block yet ("header not found", "unknown block"), or a call the
# node stopped at its time limit ("execution timeout", "context deadline exceeded")
BUSY_CODES = frozenset({-32005})
BUSY_WORDS = re.compile(r"rate limit|limit exceeded|too many requests|header not found|unknown block|"
                        r"try again later|execution timeout|deadline exceeded", re.IGNORECASE)


class NotJson(MalformedResponse):
    """An answer that is not JSON at all (truncated, an HTML error page): asked again. A JSON answer outside
    the protocol is refused at once."""


def _passing(error: Exception) -> bool:
    """An answer that is not JSON, or a busy or lagging backend's error object."""
    if isinstance(error, RpcError):
        return error.code in BUSY_CODES or bool(BUSY_WORDS.search(str(error)))
    return isinstance(error, NotJson)


class JsonRpcClient:
    def __init__(self, settings: RpcSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.patience = settings.patience  # made once: it reads the settings' declarations (~3% of a trace's CPU)
        if settings.batch_size < 1 or settings.concurrency < 1 or self.patience.max_attempts < 1:
            raise SettingError("batch_size, concurrency and max_attempts must be >= 1")
        self.settings = settings
        self.endpoint = redact_url(settings.url)
        limits = httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency)
        self._http = http_client(self.patience, transport, limits=limits)
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

    def batch(self, calls: Sequence[Call], allow_null: bool = False, shape: Any = None,
              batch_size: int | None = None, keep_errors: bool = False) -> list[Any]:
        """Results in the order of calls; batches of `batch_size`, up to `concurrency` in flight. With a
        `shape` (a msgspec type), results are decoded into it, skipping every field it does not name; an
        answer that does not fit the shape is decoded as plain JSON instead, for the caller to judge.
        With `keep_errors`, a call's error object comes back as a `CallError` in its place (for calls
        whose error is an answer, like a reverting eth_call) instead of failing the batch."""
        size = batch_size or self.settings.batch_size
        chunks = [calls[i : i + size] for i in range(0, len(calls), size)]

        def post(chunk: Sequence[Call]) -> list[Any]:
            return self._post_batch(chunk, allow_null, shape, keep_errors)

        results = [post(chunk) for chunk in chunks] if len(chunks) <= 1 else list(self._pool.map(post, chunks))
        return [item for chunk_results in results for item in chunk_results]

    def _post_batch(self, calls: Sequence[Call], allow_null: bool, shape: Any = None,
                    keep_errors: bool = False) -> list[Any]:
        payload = [{"jsonrpc": "2.0", "id": i, "method": c.method, "params": c.params} for i, c in enumerate(calls)]
        method = calls[0].method
        what = f"JSON-RPC {method} at {self.endpoint}"
        patience = self.patience

        def ask() -> list[Any]:
            response = send_with_retries(lambda: bounded(self._http, "POST", self.settings.url, json=payload,
                                                         patience=patience, what=what), what=what, patience=patience)
            if response.status_code != 200:
                raise RpcError(method, f"batch of {len(payload)}", f"HTTP {response.status_code}",
                               redacted(response.text) + refusal_hint(response.status_code, patience))
            return self._results(self._decode(response, method, shape), calls, allow_null, keep_errors)

        # a truncated or garbled answer, or a busy or lagging backend's error object: asked again
        return asked_until_well_formed(ask, patience, passing=_passing)

    def _decode(self, response: httpx.Response, method: str, shape: Any = None) -> Any:
        if shape is not None:
            try:
                return [as_plain(reply) for reply in _decoder(shape).decode(response.content)]
            except (msgspec.ValidationError, msgspec.DecodeError):
                pass  # not the expected shape (an error object, a malformed answer): judged below
        try:
            return msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise NotJson(
                f"JSON-RPC {method} at {self.endpoint}: the answer is not JSON ({len(response.content):,} bytes, "
                f"starting {redacted(response.text, 40)!r})") from None

    def _results(self, body: Any, calls: Sequence[Call], allow_null: bool, keep_errors: bool = False) -> list[Any]:
        method = calls[0].method
        if isinstance(body, dict) and "error" in body:
            error = body["error"] if isinstance(body["error"], dict) else {"message": str(body["error"])}
            raise RpcError(method, f"batch of {len(calls)}", error.get("code"), redacted(str(error.get("message"))))
        if not isinstance(body, list):
            raise MalformedResponse(f"JSON-RPC {method} at {self.endpoint}: expected a batch array, got "
                                    f"{type(body).__name__}")
        by_id: dict[int, dict] = {}
        for item in body:
            if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                raise MalformedResponse(f"JSON-RPC {method} at {self.endpoint}: batch item without id: {short(item)}")
            by_id[item["id"]] = item
        results = []
        for i, call in enumerate(calls):
            item = by_id.get(i)
            if item is None:
                raise MalformedResponse(f"JSON-RPC {call.method}{short(call.params)}: no response in batch")
            if item.get("error") is not None:
                error = item["error"] if isinstance(item["error"], dict) else {"message": str(item["error"])}
                if keep_errors:
                    results.append(CallError(error.get("code"), redacted(str(error.get("message"))), error.get("data")))
                    continue
                raise RpcError(call.method, call.params, error.get("code"), redacted(str(error.get("message"))))
            if "result" not in item:
                raise MalformedResponse(f"JSON-RPC {call.method}{short(call.params)}: response has no result")
            if item["result"] is None and not allow_null:
                raise NullResult(f"JSON-RPC {call.method}{short(call.params)}: node returned null")
            results.append(item["result"])
        return results
