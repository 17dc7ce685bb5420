"""Waits shared by the HTTP sources (JSON-RPC, AvaCloud): jittered exponential backoff, and the wait a
server asks for in its rate-limit headers."""

from __future__ import annotations

import random

import httpx

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
