"""Waits shared by the HTTP sources (JSON-RPC, AvaCloud): jittered exponential backoff, and the wait a
server asks for in its rate-limit headers."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

import httpx

log = logging.getLogger(__name__)

MAX_SERVER_WAIT_S = 300.0


def jittered_backoff(attempt: int, base_s: float, max_s: float) -> float:
    """base · 2^(attempt-1), capped at max_s, scaled by a random factor in [0.5, 1)."""
    return min(max_s, base_s * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


def server_wait(response: httpx.Response, headers: tuple[str, ...] = ("retry-after",)) -> float | None:
    """Seconds the first parseable header asks for, clamped to [0, 300]; None when none is given."""
    for header in headers:
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            return min(max(float(value), 0.0), MAX_SERVER_WAIT_S)
        except ValueError:
            continue
    return None


def send_with_retries(send: Callable[[], httpx.Response], *, what: str, attempts: int,
                      backoff: Callable[[int], float], sleep: Callable[[float], None],
                      give_up: type[Exception], rate_limit_headers: tuple[str, ...] = ("retry-after",)) -> httpx.Response:
    """The first response that is neither a 429 nor a 5xx (the caller judges it). 429s wait as the server
    asks (else back off), 5xx and transport errors back off; after `attempts`, `give_up` is raised."""
    for attempt in range(1, attempts + 1):
        try:
            response = send()
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            problem, wait = type(exc).__name__, backoff(attempt)
        else:
            if response.status_code != 429 and response.status_code < 500:
                return response
            problem = f"HTTP {response.status_code}"
            wait = server_wait(response, rate_limit_headers) if response.status_code == 429 else None
            wait = backoff(attempt) if wait is None else wait
        if attempt == attempts:
            raise give_up(f"{what}: gave up after {attempts} attempts (last: {problem})")
        log.warning("%s: %s, retry %d/%d in %.1fs", what, problem, attempt, attempts - 1, wait)
        sleep(wait)
    raise AssertionError("unreachable")
