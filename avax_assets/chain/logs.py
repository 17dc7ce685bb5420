"""Datasets decoded from the chain's logs: a `LogEvent` is a dataset, the event signatures it matches and a
function from one matching log to its rows. The tokens (transfers) and events (ABI events) families
declare theirs; a log that fits no shape is reported as malformed, never dropped silently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from avax_assets.chain.words import StaticLayout
from avax_assets.core.schema import Dataset
from avax_assets.core.spool import RowGroupProbe


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
    that fits no standard shape. With a `layout` (an event of static arguments), the logs that fit it are
    decoded in bulk, column by column, and only the others one by one (for the reason they do not fit); the
    emitter's address goes to `emitter_column`, the other columns of the log to the columns of the same name."""

    dataset: Dataset
    signatures: tuple[str, ...]
    decode_log: LogDecoder
    addresses: tuple[str, ...] = ()
    also: Callable[[pa.RecordBatch], pa.Array] | None = None  # a further mask over the logs, in bulk
    layout: StaticLayout | None = None
    emitter_column: str = "contract_address"

    @property
    def probe(self) -> RowGroupProbe:
        """Which of the stored logs' row groups to read: those with a log of the signatures (and emitters)."""
        columns = ["topic0", "address"] if self.addresses else ["topic0"]
        return columns, lambda logs: pc.any(self._emitted(logs)).as_py() is True

    def _emitted(self, logs: pa.RecordBatch | pa.Table) -> pa.Array:
        wanted = pc.is_in(logs.column("topic0"), value_set=pa.array(self.signatures))
        if self.addresses:
            wanted = pc.and_(wanted, pc.is_in(logs.column("address"), value_set=pa.array(self.addresses)))
        return wanted

    def __call__(self, logs: pa.RecordBatch) -> Decoded:
        wanted = self._emitted(logs)
        if self.also:
            wanted = pc.and_(wanted, self.also(logs))
        matches = logs.filter(wanted)
        if self.layout is None:
            return self._one_by_one(matches)
        fits = self.layout.fits(matches)
        in_bulk = self._in_bulk(matches.filter(fits))
        if pc.all(fits).as_py() is not False:  # every log fit (or there were none)
            return Decoded(in_bulk)
        rest = self._one_by_one(matches.filter(pc.invert(fits)))
        if not rest.batch.num_rows:
            return Decoded(in_bulk, rest.malformed)
        # a log the layout refused and its decoder did not: keep the rows in the order of the logs
        rows = pa.Table.from_batches([in_bulk, rest.batch])
        order = pc.sort_indices(rows, [(key, "ascending") for key in self.dataset.key_in_chain])
        return Decoded(rows.take(order).combine_chunks().to_batches()[0], rest.malformed)

    def _in_bulk(self, logs: pa.RecordBatch) -> pa.RecordBatch:
        schema = self.dataset.source_schema
        decoded = self.layout.decode(logs, schema)
        columns = [decoded[name] if name in decoded else
                   logs.column("address" if name == self.emitter_column else name) for name in schema.names]
        return pa.RecordBatch.from_arrays(columns, schema=schema)

    def _one_by_one(self, logs: pa.RecordBatch) -> Decoded:
        rows, malformed = [], []
        for log in logs.to_pylist():
            try:
                rows += self.decode_log(log)
            except ValueError as exc:  # NotDecodable, or a value that is not hex
                malformed.append(MalformedLog(log["block_number"], log["log_index"], log["transaction_hash"], str(exc)))
        return Decoded(pa.RecordBatch.from_pylist(rows, schema=self.dataset.source_schema), malformed)
