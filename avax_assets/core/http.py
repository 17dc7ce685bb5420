"""The one HTTP retry layer of every source (JSON-RPC, AvaCloud, The Graph).

Transient answers (connection errors, timeouts, 429, 5xx) are retried a bounded number of times: a wait
the server asks for (Retry-After and the like, clamped) wins, else jittered exponential backoff. Every
other answer goes back to the caller, who judges it. Nothing a server sends back is put into an error
unredacted: URLs in error bodies can carry API keys.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import httpcore
import httpx

from avax_assets.core.errors import MalformedResponse, SourceRefused, SourceUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

READ_BYTES = 256 * 1024

MAX_SERVER_WAIT_S = 300.0
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>]*[^\s\"'<>.,;:)\]}]", re.IGNORECASE)  # no end punctuation


@dataclass(frozen=True)
class Patience:
    """How long a client waits on one request and how often it tries again (from each client's settings model).

    timeout_s   bounds each connect and each read; deadline_s bounds the whole request, so a server that
    trickles its answer cannot hold a step; an answer over max_response_bytes is refused unread."""

    timeout_s: float
    max_attempts: int
    backoff_base_s: float
    backoff_max_s: float
    deadline_s: float
    max_response_bytes: int
    settings: str = ""  # the variables that set this patience, for messages
    url_setting: str = ""  # the variable holding the URL, named when the server cannot be reached

    @classmethod
    def of(cls, settings, url_setting: str) -> Patience:
        """A client's patience from its settings model, whose fields timeout_s, max_attempts, backoff_base_s,
        backoff_max_s, deadline_s and max_response_mb every retrying client declares (its messages name
        the variables of the first three that set how long it waits)."""
        waits = ("timeout_s", "deadline_s", "max_attempts")
        names = [v.name for v in type(settings).variables(settings.scope) if v.field in waits]
        return cls(timeout_s=settings.timeout_s, max_attempts=settings.max_attempts,
                   backoff_base_s=settings.backoff_base_s, backoff_max_s=settings.backoff_max_s,
                   deadline_s=settings.deadline_s, max_response_bytes=int(settings.max_response_mb * 2**20),
                   settings=f"{', '.join(names[:-1])} and {names[-1]}", url_setting=url_setting)

    def backoff(self, attempt: int) -> float:
        return jittered_backoff(attempt, self.backoff_base_s, self.backoff_max_s)



def http_client(patience: Patience, transport: httpx.BaseTransport | None = None, **options) -> httpx.Client:
    """The HTTP client of every source (its timeout from `patience`).

    httpcore reads an answer 64 KiB at a time. A node's batch answers run to megabytes, and there that costs
    ~2.5× the client CPU of 256 KiB reads (measured on 6.7 MB of block receipts: 11.8 against 4.5 ms), CPU the
    node shares when it runs on the same machine; small answers are not slower. httpcore offers no option for
    it, so its connection class's read size is raised here, once, when the first client is made."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO line per request names the whole URL
    connection = getattr(httpcore, "HTTP11Connection", None)
    if connection is not None and getattr(connection, "READ_NUM_BYTES", READ_BYTES) < READ_BYTES:
        connection.READ_NUM_BYTES = READ_BYTES
    return httpx.Client(timeout=patience.timeout_s, transport=transport, **options)

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


class DeadlineExceeded(httpx.TimeoutException):
    """The whole request took longer than its deadline (transient, like any timeout)."""


def bounded(http: httpx.Client, method: str, url: str, *, patience: Patience, what: str, **kwargs) -> httpx.Response:
    """One request whose answer is read whole within `patience.deadline_s` and `max_response_bytes`."""
    started = time.monotonic()
    limit = patience.max_response_bytes
    with http.stream(method, url, **kwargs) as response:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_large(what, f"declares {int(declared):,} bytes", limit)
        body, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise _too_large(what, f"passed {limit:,} bytes", limit)
            if time.monotonic() - started > patience.deadline_s:
                raise DeadlineExceeded(f"no complete answer within the {patience.deadline_s:g} s deadline",
                                       request=response.request)
            body.append(chunk)
    return httpx.Response(response.status_code, headers=response.headers, content=b"".join(body),
                          request=response.request)


def _too_large(what: str, detail: str, limit: int) -> SourceRefused:
    return SourceRefused(f"{what}: the answer {detail}, over the maximum response size of {limit / 2**20:g} MiB; "
                         "raise the client's max_response_mb (AVAX_RPC_MAX_RESPONSE_MB for JSON-RPC) if it is real")


# 5xx that will not change on a retry: the server does not implement the method or the HTTP version
PERMANENT_5XX = {501, 505}


def asked_until_well_formed(ask: Callable[[], T], patience: Patience,
                            sleep: Callable[[float], None] = time.sleep,
                            passing: Callable[[Exception], bool] = lambda exc: isinstance(exc, MalformedResponse)) -> T:
    """`ask()` again, a bounded number of times, while its error is `passing` (by default a malformed answer:
    truncated, garbled, not the protocol's shape, a backend's passing fault); after the last, the error says
    how often."""
    for attempt in range(1, patience.max_attempts + 1):
        try:
            return ask()
        except Exception as exc:  # noqa: BLE001 - anything not passing is raised again at once
            if not passing(exc):
                raise
            _wait_to_ask_again(exc, attempt, patience, sleep)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _wait_to_ask_again(exc: Exception, attempt: int, patience: Patience,
                      sleep: Callable[[float], None] = time.sleep) -> None:
    """Wait before the next attempt; after the last, raise `exc` saying how often it was asked."""
    if attempt >= patience.max_attempts:
        exc.args = (f"{exc} ({attempt} answers like it; {patience.settings} set how often to ask again)",)
        raise exc from None
    wait = patience.backoff(attempt)
    log.warning("%s, retry %d/%d in %.1fs", exc, attempt, patience.max_attempts - 1, wait)
    sleep(wait)


def refusal_hint(status: int, patience: Patience, key_setting: str | None = None) -> str:
    """What a refused request's status says to check, naming the setting: the credentials (401, 403) or the
    address (404, 405: a wrong path, or a server of another kind at that URL)."""
    if status in (401, 403):
        return f"; the source refused the credentials: check {key_setting or patience.url_setting}"
    if status in (404, 405):
        return f"; check {patience.url_setting} (a wrong path, or another kind of server, answers so)"
    return ""


def is_transient(response: httpx.Response) -> bool:
    """408, 429 and 5xx (but 501 and 505) may pass; any other answer is the server's last word."""
    status = response.status_code
    return status in (408, 429) or (status >= 500 and status not in PERMANENT_5XX)


def send_with_retries(send: Callable[[], httpx.Response], *, what: str, patience: Patience,
                      sleep: Callable[[float], None] = time.sleep,
                      rate_limit_headers: tuple[str, ...] = ("retry-after",)) -> httpx.Response:
    """The first answer that is not transient. After `patience.max_attempts`, SourceUnavailable."""
    attempts = patience.max_attempts
    for attempt in range(1, attempts + 1):
        unreachable = False
        try:
            response = send()
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            unreachable = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol))
            problem, wait = f"{type(exc).__name__}{f': {exc}' if isinstance(exc, DeadlineExceeded) else ''}", \
                patience.backoff(attempt)
        else:
            if not is_transient(response):
                return response
            problem = f"HTTP {response.status_code}"
            asked = server_wait(response, rate_limit_headers)
            wait = patience.backoff(attempt) if asked is None else min(asked, patience.deadline_s)
            if asked is not None and asked > wait:
                problem += f" (the server asked for {asked:g} s; waiting the {wait:g} s deadline at most)"
        if attempt == attempts:
            hint = f"; {patience.settings} set how long to wait" if patience.settings else ""
            if unreachable and patience.url_setting:
                hint = f"; check {patience.url_setting} (the server did not accept a connection){hint}"
            raise SourceUnavailable(f"{what}: gave up after {attempts} attempts (last: {problem}){hint}")
        log.warning("%s: %s, retry %d/%d in %.1fs", what, problem, attempt, attempts - 1, wait)
        sleep(wait)
    raise AssertionError("unreachable")


def redact_url(url: str) -> str:
    """scheme://host[:port] only: provider URLs often carry an API key in the path or query."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # not a port: none shown
        port = None
    return f"{parts.scheme}://{parts.hostname or ''}{f':{port}' if port else ''}"


# Every secret setting's value (and the path segments and query values of a secret URL) is remembered when
# its settings are built, so text a provider echoes back (a 401 body, a JSON-RPC error naming the key) is
# scrubbed of it before it reaches an error, a log line or metadata.
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_PLAIN_SEGMENTS = {"ext", "bc", "rpc", "ws", "api", "v1", "v2", "c", "p", "x", "subgraphs", "id", "mainnet"}
HIDDEN = "***"


def remember_secret(value: str | None) -> None:
    """Scrub `value` (and, for a URL, its path segments and query values) from every redacted text."""
    if not value:
        return
    pieces = {value}
    parts = urlsplit(value)
    if parts.scheme and parts.hostname:
        pieces |= {segment for segment in parts.path.split("/") if segment.lower() not in _PLAIN_SEGMENTS}
        pieces |= {pair.split("=", 1)[-1] for pair in parts.query.split("&")}
        pieces |= {parts.password or "", parts.username or ""}
    with _SECRETS_LOCK:
        _SECRETS.update(piece for piece in pieces if len(piece) >= 4)


def scrubbed(text: str) -> str:
    """`text` without any remembered secret."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, HIDDEN)
    return text


def redacted(text: str, limit: int = 200) -> str:
    """Server-sent text fit for an error message: every URL in it cut to scheme://host[:port], every remembered
    secret scrubbed."""
    return scrubbed(_URL.sub(lambda match: redact_url(match.group(0)), text))[:limit]


class Scrubbing(logging.Filter):
    """A log handler's filter: every record's message scrubbed of remembered secrets and URLs' paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redacted(message, limit=10_000)
        if clean != message:
            record.msg, record.args = clean, None
        return True
