"""One client for the AvaCloud Data API (Glacier) and Metrics API.

- The optional API key is sent as `x-glacier-api-key`; it never appears in logs, errors or metadata.
- Every request first spends its compute units from a per-minute budget shared by all clients of the
  process, so a backfill runs at the budget instead of into 429s. A path is an `ApiPath` declared beside
  the dataset that calls it, with its cost: the spec's `x-execution-weight`, valued by its
  `x-execution-weight-values` (free 1, small 10, medium 20, large 50, xl 100).
- 429: wait for `retry-after`, else `ratelimit-reset`, else exponential backoff with jitter; 5xx,
  timeouts and connection errors: bounded retries (core/http.py); other 4xx: an error with the
  envelope's message.
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

from avax_assets.core.errors import MalformedResponse, SettingError, SourceRefused
from avax_assets.core.http import (asked_until_well_formed, bounded, http_client, redacted, refusal_hint,
                                   send_with_retries)
from avax_assets.avacloud.settings import AvaCloudSettings

API_KEY_HEADER = "x-glacier-api-key"
RATE_LIMIT_HEADERS = ("retry-after", "ratelimit-reset")
_DECLARED: dict[str, "ApiPath"] = {}


@dataclass(frozen=True)
class ApiPath:
    """An AvaCloud path template and the compute units one request to it costs."""

    template: str
    cost: int

    def __post_init__(self) -> None:
        _DECLARED.setdefault(self.template, self)

    @property
    def is_metrics(self) -> bool:
        return self.template.startswith("/v2/")

    def format(self, **params: Any) -> str:
        return self.template.format(**{k: quote(str(v), safe="") for k, v in params.items()})


def declared_paths() -> dict[str, ApiPath]:
    """Every path declared so far (by the modules imported), keyed by template."""
    return dict(_DECLARED)


class ComputeBudget:
    """A token bucket of compute units: holds up to one minute's budget, refills continuously, and
    makes `spend` wait until the units are there. Thread-safe."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if per_minute <= 0:
            raise SettingError("the compute-unit budget (AVAX_AVACLOUD_CU_PER_MINUTE) must be positive")
        self.per_minute = per_minute
        self._clock, self._sleep = clock, sleep
        self._available = float(per_minute)
        self._updated = clock()
        self._lock = threading.Lock()
        self.spent = 0

    def spend(self, units: int) -> None:
        if units > self.per_minute:
            raise SettingError(f"a request of {units} CU can never fit a budget of {self.per_minute} CU/min")
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
        self._http = http_client(settings.patience, transport, headers=headers)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AvaCloudClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: ApiPath, path_params: dict | None = None, query: dict | None = None) -> dict:
        """GET one endpoint; returns the decoded JSON object."""
        base = self.settings.metrics_url if path.is_metrics else self.settings.data_url
        url = base.rstrip("/") + path.format(**(path_params or {}))
        params = {k: v for k, v in (query or {}).items() if v is not None}

        def send() -> httpx.Response:
            self.budget.spend(path.cost)  # every attempt costs its units
            return bounded(self._http, "GET", url, params=params, patience=self.settings.patience,
                           what=f"AvaCloud GET {path.template}")

        def ask() -> dict:
            response = send_with_retries(send, what=f"AvaCloud GET {path.template}", patience=self.settings.patience,
                                         sleep=self._sleep, rate_limit_headers=RATE_LIMIT_HEADERS)
            if response.status_code != 200:
                hint = refusal_hint(response.status_code, self.settings.patience, self.settings.variable("api_key"))
                raise SourceRefused(f"AvaCloud GET {path.template}: HTTP {response.status_code}: "
                                    f"{_envelope(response)}{hint}")
            return self._decode(path.template, response)

        return asked_until_well_formed(ask, self.settings.patience, self._sleep)

    def pages(self, path: ApiPath, items_key: str, path_params: dict | None = None, query: dict | None = None,
              page_size: int | None = None, about: str = "") -> Iterator[list[dict]]:
        """Every page's items, following nextPageToken until it is missing or empty. `about` (what is being
        read: dataset, partition, chain…) leads every error."""
        token, seen = None, set()
        about = f"{about}: " if about else ""
        for _ in range(self.settings.max_pages):
            body = self.get(path, path_params, {**(query or {}), "pageSize": page_size or self.settings.page_size,
                                                "pageToken": token})
            items = body.get(items_key)
            if not isinstance(items, list):
                raise SourceRefused(f"{about}AvaCloud GET {path.template}: response has no '{items_key}' list "
                                    f"(page {len(seen)})")
            yield items
            token = body.get("nextPageToken")
            if not token:
                return
            if token in seen:
                raise SourceRefused(f"{about}AvaCloud GET {path.template}: nextPageToken repeated after "
                                    f"{len(seen)} pages; refusing to loop")
            seen.add(token)
        raise SourceRefused(f"{about}AvaCloud GET {path.template}: more than {self.settings.max_pages} pages; "
                            "raise max_pages if that is expected")

    @staticmethod
    def _decode(path: str, response: httpx.Response) -> dict:
        try:  # JSON numbers with a fraction become Decimal: exact, never float
            body = json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise MalformedResponse(f"AvaCloud GET {path}: the answer is not JSON ({len(response.content):,} bytes, "
                                    f"starting {redacted(response.text, 40)!r})") from None
        if not isinstance(body, dict):
            raise MalformedResponse(f"AvaCloud GET {path}: expected a JSON object, got {type(body).__name__}")
        return body


def _envelope(response: httpx.Response) -> str:
    """The message of the API's error envelope {message: string | string[], statusCode, error}."""
    try:
        body: Any = response.json()
    except ValueError:
        return redacted(response.text)
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, list):
        message = "; ".join(map(str, message))
    return redacted(str(message or body), 500)

