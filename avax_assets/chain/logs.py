"""Datasets decoded from the chain's logs: a `LogEvent` is a dataset, the event signatures it matches and a
function from one matching log to its rows. The tokens (transfers) and events (ABI events) families
declare theirs; a log that fits no shape is reported as malformed, never dropped silently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from avax_assets.core.schema import Dataset


@dataclass(frozen=True)
class MalformedLog:
    block_number: int
    log_index: int
    transaction_hash: str
    reason: str


@dataclass
class Decoded:
    batch: pa.RecordBatch
    malformed: list[MalformedLog] = field(default_factory=list)


LogDecoder = Callable[[dict], list[dict]]


@dataclass(frozen=True)
class LogEvent:
    """A dataset decoded from logs: the logs whose topic0 is one of `signatures` (emitted by one of
    `addresses`, when given), each turned into rows by `decode_log`, which raises NotDecodable for a log
    that fits no standard shape."""

    dataset: Dataset
    signatures: tuple[str, ...]
    decode_log: LogDecoder
    addresses: tuple[str, ...] = ()
    also: Callable[[pa.RecordBatch], pa.Array] | None = None  # a further mask over the logs, in bulk

    def __call__(self, logs: pa.RecordBatch) -> Decoded:
        wanted = pc.is_in(logs.column("topic0"), value_set=pa.array(self.signatures))
        if self.addresses:
            wanted = pc.and_(wanted, pc.is_in(logs.column("address"), value_set=pa.array(self.addresses)))
        if self.also:
            wanted = pc.and_(wanted, self.also(logs))
        matches = logs.filter(wanted)
        rows, malformed = [], []
        for log in matches.to_pylist():
            try:
                rows += self.decode_log(log)
            except ValueError as exc:  # NotDecodable, or a value that is not hex
                malformed.append(MalformedLog(log["block_number"], log["log_index"], log["transaction_hash"], str(exc)))
        return Decoded(pa.RecordBatch.from_pylist(rows, schema=self.dataset.source_schema), malformed)
