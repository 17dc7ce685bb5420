"""The one error tree. Every failure the pipeline raises on purpose is either

    TransientError  a later attempt may succeed: connection, timeout, 429, 5xx, a sink down, a day not finished yet
    PermanentError  retrying cannot help: bad data, bad settings, a source or table outside its contract

The jobs' retry policy retries transient failures only (orchestration/factory.py turns a permanent one
into a Failure that Dagster does not retry). Messages name dataset, partition and field or setting.
"""

from __future__ import annotations

from typing import Any


class AvaxError(Exception):
    """Base of every error the pipeline raises on purpose."""


class TransientError(AvaxError):
    """A later attempt may succeed."""


class PermanentError(AvaxError):
    """Retrying cannot help: the data, the settings or a contract is wrong."""


# --- transient ----------------------------------------------------------------------------------

class SourceUnavailable(TransientError):
    """A source kept failing with connection errors, timeouts, 429s or 5xx; its retries are exhausted."""


class PartitionNotReady(TransientError):
    """The source has not (fully) produced the partition yet."""


class SourceBehind(TransientError):
    """The source answered null for a block at or below the head it reported: a load-balanced backend behind
    the others answered. A later attempt (another backend, or this one caught up) may succeed."""


class ClickHouseBusy(TransientError):
    """The embedded ClickHouse directory stayed held by another process for longer than the wait allows."""


class KafkaDeliveryError(TransientError):
    """The broker did not confirm every message of a partition."""


class SinkUnavailable(TransientError):
    """A sink the run writes (Kafka, the S3 lake, ClickHouse) did not answer; the message names its setting."""


class RefetchChunk(TransientError):
    """A chunk's answers that fetching the chunk again may mend: it is fetched again, a bounded number of times
    (chain/extract.py Refetch), and then `for_good` fails the partition."""

    def __init__(self, dataset: str, partition: str, block: int, detail: str) -> None:
        super().__init__(f"dataset '{dataset}' partition {partition}: block {block}: {detail}")
        self.dataset = dataset
        self.partition = partition
        self.block = block
        self.detail = detail

    def _after(self, fetches: int, source: str) -> str:
        return f"{self} (in each of {fetches} fetches from {source}; nothing of the partition was stored)"

    def for_good(self, fetches: int, source: str) -> AvaxError:
        raise NotImplementedError


class ProviderInconsistency(RefetchChunk):
    """The source's answers for a chunk contradict each other or the chain (a receipt of another block, two
    hashes for one height, a block missing from a lagging backend). Under Snowman an accepted block never
    changes, so this is a provider's fault, never data."""

    def for_good(self, fetches: int, source: str) -> InconsistentSource:
        return InconsistentSource(self._after(fetches, source))


class TraceTimedOut(RefetchChunk):
    """The node stopped tracing a transaction at its time limit per transaction (a dense block, a loaded node).
    After the chunk's fetches, still a passing cause: SourceUnavailable, which names the setting that raises
    the limit."""

    def for_good(self, fetches: int, source: str) -> SourceUnavailable:
        return SourceUnavailable(self._after(fetches, source))


# --- permanent ----------------------------------------------------------------------------------

class BadField(PermanentError, ValueError):
    """A source value that does not fit its declared column (the caller adds dataset and partition)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"field '{field}': {detail}")
        self.field = field
        self.detail = detail


class NotDecodable(PermanentError, ValueError):
    """A log with a decoder's signature whose topics or data fit no standard shape (reported as malformed)."""


class SourceDataError(PermanentError, ValueError):
    """Malformed source data for one dataset partition; nothing is stored for it."""

    def __init__(self, dataset: str, partition: str, field: str, detail: str, where: str = "") -> None:
        location = f" at {where}" if where else ""
        super().__init__(f"dataset '{dataset}' partition {partition}: field '{field}' {detail}{location}")
        self.dataset = dataset
        self.partition = partition
        self.field = field


class InconsistentSource(PermanentError):
    """A chunk stayed inconsistent through every fetch (ProviderInconsistency.for_good): one line naming the
    dataset, partition, block, the fields that disagree with both values, and the source, redacted."""


class PartitionCheckFailed(PermanentError):
    """A whole-partition check computed from the extracted data failed before the lake write."""

    def __init__(self, dataset: str, partition: str, check: str, detail: str) -> None:
        super().__init__(f"dataset '{dataset}' partition {partition}: check {check} failed before anything was "
                         f"stored: {detail}")
        self.check = check


class SettingError(PermanentError, ValueError):
    """A setting is missing or invalid; the message names the setting (its environment variable)."""


class TracingUnavailable(SettingError):
    """The configured node serves no call traces."""


class NotStored(PermanentError):
    """A stored partition an asset reads is not in the lake (the day was never extracted)."""


class SourceRefused(PermanentError):
    """A source refused the request (4xx other than 429, GraphQL errors) or answered outside its contract
    (not JSON, no items list, repeated page token, indexing errors)."""


class MalformedResponse(SourceRefused):
    """The answer is not a valid response of the protocol (e.g. JSON-RPC without ids or results)."""


class NullResult(MalformedResponse):
    """The source returned null where a value was required (e.g. a block the node does not have)."""


class RpcError(SourceRefused):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, method: str, params: Any, code: Any, message: str) -> None:
        super().__init__(f"JSON-RPC {method}{short(params)} failed: [{code}] {message}")
        self.method = method
        self.code = code


class PartitionLoadError(PermanentError):
    """A ClickHouse table or a staged partition does not match its declaration; nothing was loaded."""


class AuditFailed(PermanentError):
    """A staged partition failed a blocking audit: it was not swapped in, so the table and the lake keep theirs."""


def short(value: Any, limit: int = 120) -> str:
    """`(repr…)` of a value, cut at `limit` characters, for messages."""
    text = repr(value)
    return f"({text[:limit]}{'…' if len(text) > limit else ''})"


class DayBeyondHead(PermanentError):
    """A partition's day starts more than a day after the source's newest block: no retry will reach it soon
    (the newest, unfinished day is a PartitionNotReady instead)."""
