"""One client for the AvaCloud Data API (Glacier) and Metrics API.

- The optional API key is sent as `x-glacier-api-key`; it never appears in logs, errors or metadata.
- Every request first spends its compute units (the spec's `x-execution-weight`) from a per-minute
  budget shared by all clients of the process, so a backfill runs at the budget instead of into 429s.
- 429: wait for `retry-after`, else `ratelimit-reset`, else exponential backoff with jitter; 5xx,
  timeouts and connection errors: bounded retries; other 4xx: an error with the envelope's message.
- Cursor pagination (`pageToken` → `nextPageToken`) stops on a missing or empty token and refuses a
  repeated token or more than `max_pages` pages (spec-driven mocks always return a token).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from avax_assets.sources.retry import jittered_backoff, send_with_retries


API_KEY_HEADER = "x-glacier-api-key"
RATE_LIMIT_HEADERS = ("retry-after", "ratelimit-reset")
# Compute units per endpoint: the spec's x-execution-weight, valued by its x-execution-weight-values
# (free 1, small 10, medium 20, large 50, xl 100). Only endpoints this project calls are listed.
ENDPOINT_COSTS: dict[str, int] = {
    "/v1/chains": 1,
    "/v1/chains/{chainId}": 1,
    "/v1/chains/{chainId}/blocks": 10,
    "/v1/chains/{chainId}/blocks/{blockId}": 10,
    "/v1/chains/{chainId}/blocks/{blockId}/transactions": 20,
    "/v1/networks/{network}/subnets": 20,
    "/v1/networks/{network}/blockchains": 20,
    "/v1/networks/{network}/validators": 20,
    "/v1/networks/{network}/l1Validators": 20,
    "/v1/networks/{network}/delegators": 20,
    "/v1/icm/messages": 20,
    "/v2/chains/{chainId}/metrics/{metric}": 10,
}
BUDGET_TIERS = {"unauthenticated": 6_000, "free": 8_000, "base": 10_000, "growth": 14_000, "pro": 20_000}


class AvaCloudError(RuntimeError):
    """The API refused the request (4xx other than 429); carries the error envelope's message."""


class AvaCloudUnavailable(RuntimeError):
    """Retries exhausted (429s, 5xx, timeouts)."""


class PaginationError(RuntimeError):
    """The pager saw a repeated token or ran past its page cap."""


@dataclass(frozen=True)
class AvaCloudSettings:
    data_url: str = "https://data-api.avax.network"
    metrics_url: str = "https://metrics.avax.network"
    api_key: str | None = None
    cu_per_minute: int = BUDGET_TIERS["unauthenticated"]
    page_size: int = 100
    max_pages: int = 1_000
    timeout_s: float = 30.0
    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0


class ComputeBudget:
    """A token bucket of compute units: holds up to one minute's budget, refills continuously, and
    makes `spend` wait until the units are there. Thread-safe."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if per_minute <= 0:
            raise ValueError("the compute-unit budget must be positive")
        self.per_minute = per_minute
        self._clock, self._sleep = clock, sleep
        self._available = float(per_minute)
        self._updated = clock()
        self._lock = threading.Lock()
        self.spent = 0

    def spend(self, units: int) -> None:
        if units > self.per_minute:
            raise ValueError(f"a request of {units} CU can never fit a budget of {self.per_minute} CU/min")
        while True:
            with self._lock:
                now = self._clock()
                self._available = min(self.per_minute,
                                      self._available + (now - self._updated) * self.per_minute / 60)
                self._updated = now
                if self._available >= units:
                    self._available -= units
                    self.spent += units
                    return
                wait = (units - self._available) * 60 / self.per_minute
            self._sleep(wait)


_budgets: dict[int, ComputeBudget] = {}
_budgets_lock = threading.Lock()


def shared_budget(per_minute: int) -> ComputeBudget:
    """One budget per process and rate: concurrent steps of one run share it."""
    with _budgets_lock:
        return _budgets.setdefault(per_minute, ComputeBudget(per_minute))


class AvaCloudClient:
    def __init__(self, settings: AvaCloudSettings, transport: httpx.BaseTransport | None = None,
                 budget: ComputeBudget | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.budget = budget or shared_budget(settings.cu_per_minute)
        self._sleep = sleep
        headers = {"accept": "application/json"}
        if settings.api_key:
            headers[API_KEY_HEADER] = settings.api_key
        self._http = httpx.Client(timeout=settings.timeout_s, headers=headers, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AvaCloudClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, path_params: dict | None = None, query: dict | None = None) -> dict:
        """GET one endpoint (a path template from ENDPOINT_COSTS); returns the decoded JSON object."""
        cost = ENDPOINT_COSTS[path]
        base = self.settings.metrics_url if path.startswith("/v2/") else self.settings.data_url
        url = base.rstrip("/") + path.format(**{k: quote(str(v), safe="") for k, v in (path_params or {}).items()})
        params = {k: v for k, v in (query or {}).items() if v is not None}

        def send() -> httpx.Response:
            self.budget.spend(cost)  # every attempt costs its units
            return self._http.get(url, params=params)

        response = send_with_retries(send, what=f"AvaCloud GET {path}", attempts=self.settings.max_attempts,
                                     backoff=self._backoff, sleep=self._sleep, give_up=AvaCloudUnavailable,
                                     rate_limit_headers=RATE_LIMIT_HEADERS)
        if response.status_code != 200:
            raise AvaCloudError(f"AvaCloud GET {path}: HTTP {response.status_code}: {_envelope(response)}")
        return self._decode(path, response)

    def pages(self, path: str, items_key: str, path_params: dict | None = None, query: dict | None = None,
              page_size: int | None = None) -> Iterator[list[dict]]:
        """Every page's items, following nextPageToken until it is missing or empty."""
        token, seen = None, set()
        for _ in range(self.settings.max_pages):
            body = self.get(path, path_params, {**(query or {}), "pageSize": page_size or self.settings.page_size,
                                                "pageToken": token})
            items = body.get(items_key)
            if not isinstance(items, list):
                raise AvaCloudError(f"AvaCloud GET {path}: response has no '{items_key}' list")
            yield items
            token = body.get("nextPageToken")
            if not token:
                return
            if token in seen:
                raise PaginationError(f"AvaCloud GET {path}: nextPageToken repeated after {len(seen)} pages; "
                                      "refusing to loop")
            seen.add(token)
        raise PaginationError(f"AvaCloud GET {path}: more than {self.settings.max_pages} pages; raise max_pages "
                              "if that is expected")

    def _backoff(self, attempt: int) -> float:
        return jittered_backoff(attempt, self.settings.backoff_base_s, self.settings.backoff_max_s)

    @staticmethod
    def _decode(path: str, response: httpx.Response) -> dict:
        try:  # JSON numbers with a fraction become Decimal: exact, never float
            body = json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise AvaCloudError(f"AvaCloud GET {path}: response is not JSON: {response.text[:120]!r}") from None
        if not isinstance(body, dict):
            raise AvaCloudError(f"AvaCloud GET {path}: expected a JSON object, got {type(body).__name__}")
        return body


def _envelope(response: httpx.Response) -> str:
    """The message of the API's error envelope {message: string | string[], statusCode, error}."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:200]
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, list):
        message = "; ".join(map(str, message))
    return str(message or body)[:500]

