"""The tokens family's assets: each LogEvent of tokens/decode.py decoded from the stored `logs`
partition (no second trip to the node), with a warning check listing logs that fit no standard shape;
and `tokens`, the metadata of every token seen that day (tokens/metadata.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa

from avax_assets.chain.assets import contract_reads_asset
from avax_assets.chain.calls import distinct_values
from avax_assets.chain.datasets import LOGS
from avax_assets.core.audits import AuditResult
from avax_assets.orchestration.factory import DatasetAsset, ExtractCheck, Run, stateless
from avax_assets.tokens.decode import EVENTS, LogEvent, MalformedLog
from avax_assets.tokens.metadata import TOKEN_SOURCES, TOKENS, token_batches

NO_MALFORMED_LOGS = "no_malformed_logs"
MALFORMED_SAMPLES = 20


def decoded_asset(event: LogEvent, group: str = "tokens") -> DatasetAsset:
    def read(run: Run, partition: str) -> Iterator[pa.RecordBatch]:
        malformed: list[MalformedLog] = []
        count = 0
        for logs in run.inputs[LOGS.name][partition].iter_batches():
            decoded = event(logs)
            count += len(decoded.malformed)
            malformed.extend(decoded.malformed[: MALFORMED_SAMPLES - len(malformed)])
            yield decoded.batch
        if count:
            run.log.warning(f"{event.dataset.name} {partition}: {count} malformed logs, e.g. {malformed[0]}")
        run.note(partition, malformed_logs=count)
        run.check(NO_MALFORMED_LOGS, partition, AuditResult(count == 0, {"malformed_logs": count,
                                                                        "samples": dg.MetadataValue.md(_malformed_table(malformed))}))

    return DatasetAsset(
        dataset=event.dataset, group=group, origin=f"Decoded from `{LOGS.name}`", source=stateless(read),
        inputs=(LOGS,),
        checks=(ExtractCheck(NO_MALFORMED_LOGS, "Logs with this dataset's signature that fit no standard shape",
                             warn_only=True),))


def _malformed_table(samples: list[MalformedLog]) -> str:
    lines = ["| block | log index | transaction | reason |", "|---|---|---|---|"]
    lines += [f"| {m.block_number} | {m.log_index} | {m.transaction_hash} | {m.reason} |" for m in samples]
    return "\n".join(lines)


ASSETS = tuple(decoded_asset(event) for event in EVENTS)


def tokens_seen(run: Run, partition: str) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = defaultdict(set)
    for dataset, column in TOKEN_SOURCES:
        for address in distinct_values(run.inputs[dataset.name][partition].iter_batches(), column):
            seen[address].add(dataset.name)
    return seen


TOKENS_ASSET = contract_reads_asset(TOKENS, tuple(dict.fromkeys(d for d, _ in TOKEN_SOURCES)), tokens_seen,
                                    token_batches, group="tokens", errors_column="metadata_errors")
