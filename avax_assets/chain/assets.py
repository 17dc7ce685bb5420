"""The chain family's assets: each extraction of chain/extract.py over its day's block range, from
JSON-RPC or (blocks, transactions) the AvaCloud Data API, by the `rpc` resource's `blocks_source`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import dagster as dg
import pyarrow as pa

from avax_assets.avacloud.resources import AvaCloudResource
from avax_assets.chain.calls import last_block_of
from avax_assets.chain.data_api import DataApiChainReader
from avax_assets.chain.datasets import BLOCKS, LOGS
from avax_assets.chain.extractors import Scope
from avax_assets.chain.extract import (EXTRACTIONS, IN_FULL_BLOCKS, ChainExtraction, Refetch, chunk_extractor,
                                      in_chunks)
from avax_assets.chain.logs import LogEvent, MalformedLog
from avax_assets.chain.resources import ChainRpcResource
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.core.days import BlockRange, day_block_range, partition_day
from avax_assets.core.errors import BadField, SourceDataError
from avax_assets.core.http import redact_url
from avax_assets.core.schema import Dataset
from avax_assets.core.audits import AuditResult
from avax_assets.orchestration import pools
from avax_assets.orchestration.factory import (DatasetAsset, ExtractCheck, JointAsset, JointReader, PartitionReader,
                                              Run, SourceSystem, stateless)

C_CHAIN_RPC = SourceSystem(
    "c_chain_rpc", "The chain's node JSON-RPC API (AVAX_RPC_URL): blocks, transactions and receipts, logs, call "
    "traces. With AVAX_BLOCKS_SOURCE=data_api, blocks and transactions come from the AvaCloud Data API instead.",
    kinds=("json-rpc",), per_chain="{chain}_rpc")


def chain_source(extractions: tuple[ChainExtraction, ...]):
    """The source of chain datasets extracted in one step: each chunk of the day's blocks read once for
    all the chosen datasets (chain/extract.py `chunk_extractor`)."""

    @contextmanager
    def source(run: Run, datasets: tuple[Dataset, ...]) -> Iterator[JointReader]:
        rpc = run.resource(ChainRpcResource)
        chunk_blocks = rpc.settings().chunk_blocks
        names = {dataset.name for dataset in datasets}  # this chain's datasets: the declarations bound to it
        chosen = tuple(e for e in extractions if e.dataset.name in names)
        use_data_api = rpc.uses_data_api() and any(e.data_api for e in chosen)
        with _readers(run, use_data_api) as (reader, data_api_reader, source_metadata):
            def read(partition: str):
                started = time.monotonic()
                names = "+".join(e.dataset.name for e in chosen)
                blocks = block_range(data_api_reader or reader, chosen[0].dataset, partition)
                run.log.info(f"{names} {partition}: blocks {blocks.first}..{blocks.last} ({blocks.count}) from "
                             f"{'the Data API' if use_data_api else 'JSON-RPC'}")
                counts = [(e.dataset.name, name, count) for e in chosen for name, count in e.counts]
                counted = dict.fromkeys((name for _, name, _ in counts), 0)
                scopes = {e.dataset.name: Scope(e.dataset, partition) for e in chosen}
                work = chunk_extractor(chosen, partition, reader, data_api_reader, scopes)
                refetch = Refetch.of(names, partition, reader, data_api_reader, run.log)
                for batches in in_chunks(work, names, partition, blocks, chunk_blocks, run.log, refetch):
                    for dataset, name, count in counts:
                        counted[name] += count(batches[dataset])
                    yield batches
                unknown = {key: count for scope in scopes.values() for key, count in sorted(scope.unknown.items())}
                if unknown:  # a field the node added: kept out of the rows, but never silently
                    run.log.warning(f"{names} {partition}: the source sent fields no declaration knows (objects "
                                    f"carrying each): {unknown}; add them to the declarations to keep them")
                for name, scope in scopes.items():
                    if name in FIELDS_DECLARED:
                        run.check(UNKNOWN_SOURCE_FIELDS, partition, unknown_fields_result(scope.unknown), name)
                run.note(partition, first_block=blocks.first, last_block=blocks.last, block_count=blocks.count,
                         extract_seconds=round(time.monotonic() - started, 2), refetched_chunks=refetch.count,
                         unknown_source_fields=dg.MetadataValue.json(unknown), **counted)
            yield read
            run.metadata.update(source_metadata())

    return source


UNKNOWN_SOURCE_FIELDS = "unknown_source_fields"
# the datasets made of the node's blocks, transactions, receipts and logs, every key of which is declared (a column,
# or a key with its reason to be none: chain/rows.py): any other key is counted, named and warned of
FIELDS_DECLARED = {d.name for d in IN_FULL_BLOCKS}


def unknown_fields_result(unknown: dict[str, int]) -> AuditResult:
    """Passes when the source sent no key the declarations do not know; else warns, naming each key (as
    "block.someKey") and how many objects carried it."""
    return AuditResult(not unknown, {"unknown_fields": dg.MetadataValue.json(dict(sorted(unknown.items()))),
                                     "objects_with_unknown_fields": sum(unknown.values())},
                       f"fields no declaration knows: {', '.join(sorted(unknown))}" if unknown else "")


def single(extraction: ChainExtraction):
    """The source of one chain dataset extracted on its own."""
    together = chain_source((extraction,))

    @contextmanager
    def source(run: Run) -> Iterator[PartitionReader]:
        with together(run, (extraction.dataset,)) as read:
            yield lambda partition: (batches[extraction.dataset.name] for batches in read(partition))

    return source


def block_range(reader, dataset: Dataset, partition: str) -> BlockRange:
    """The partition's block range; a malformed block number or timestamp in the source's answers is
    named with the dataset and partition."""
    try:
        return day_block_range(reader, partition_day(partition))
    except BadField as bad:
        raise SourceDataError(dataset.name, partition, bad.field, bad.detail,
                              f"finding the day's block range at {redact_url(reader.endpoint.split('#')[0])}") from None


@contextmanager
def _readers(run: Run, use_data_api: bool):
    """The JSON-RPC reader, the Data API reader (None unless used) and a function giving the source's metadata."""
    rpc = run.resource(ChainRpcResource)
    with rpc.reader() as reader:
        if not use_data_api:
            yield reader, None, lambda: {"source": "json-rpc"}
            return
        with run.resource(AvaCloudResource).client() as client:
            spent_before = client.budget.spent
            settings = rpc.settings()
            data_api_reader = DataApiChainReader(client, settings.chain_id, concurrency=settings.concurrency)
            yield reader, data_api_reader, lambda: {"source": "avacloud data api",
                                                    "compute_units": client.budget.spent - spent_before}


def chain_asset(extraction: ChainExtraction) -> DatasetAsset:
    checks = (ExtractCheck(UNKNOWN_SOURCE_FIELDS, "Keys the source sent that no declaration knows (a field a node "
                           "upgrade added), named with how many objects carried each: kept out of the rows until "
                           "declared, never dropped silently", warn_only=True),) \
        if extraction.dataset.name in FIELDS_DECLARED else ()
    return DatasetAsset(
        dataset=extraction.dataset, group="chain", source=single(extraction), pool=pools.RPC,
        origin="Extracted over JSON-RPC" + (" (or the AvaCloud Data API: blocks_source)" if extraction.data_api
                                            else ""),
        resources=(ChainRpcResource, AvaCloudResource) if extraction.data_api else (ChainRpcResource,),
        reads=C_CHAIN_RPC, checks=checks)


ASSETS = tuple(chain_asset(extraction) for extraction in EXTRACTIONS)
# blocks, transactions and logs in one step: one fetch of full blocks and receipts holds all three
BLOCKS_TRANSACTIONS_LOGS = JointAsset(
    "blocks_transactions_logs", members=tuple(a for a in ASSETS if a.dataset in IN_FULL_BLOCKS),
    source=chain_source(tuple(e for e in EXTRACTIONS if e.dataset in IN_FULL_BLOCKS)))
JOINTS = (BLOCKS_TRANSACTIONS_LOGS,)

# contracts found in a day's stored inputs → what is known of each (for its reads)
ContractsSeen = Callable[[Run, str], dict]
StateReader = Callable[[JsonRpcClient, dict, dict], Iterable]


def contract_reads_asset(dataset: Dataset, inputs: tuple[Dataset, ...], seen: ContractsSeen, read_state: StateReader,
                         group: str, errors_column: str) -> DatasetAsset:
    """A dataset of contract state: the contracts `seen` in the day's stored inputs, read with eth_call
    at the day's last block (from the stored `blocks`) by `read_state(client, contracts, at)`."""

    @contextmanager
    def source(run: Run) -> Iterator[PartitionReader]:
        with run.resource(ChainRpcResource).reader() as reader:
            def read(partition: str):
                started = time.monotonic()
                at = last_block_of(run.inputs[BLOCKS.name][partition].iter_batches())
                contracts = seen(run, partition) if at else {}
                with_errors = 0
                for batch in read_state(reader.client, contracts, at) if contracts else ():
                    with_errors += batch.num_rows - batch.column(errors_column).null_count
                    yield batch
                run.note(partition, contracts_read=len(contracts), contracts_with_errors=with_errors,
                         read_at_block=at["block_number"] if at else None,
                         read_seconds=round(time.monotonic() - started, 2))
            yield read

    return DatasetAsset(dataset=dataset, group=group, origin="Read with eth_call at the day's last block",
                        source=source, resources=(ChainRpcResource,), inputs=(BLOCKS, *inputs), pool=pools.RPC,
                        reads=C_CHAIN_RPC)


NO_MALFORMED_LOGS = "no_malformed_logs"
MALFORMED_SAMPLES = 20


def decoded_asset(event: LogEvent, group: str = "tokens") -> DatasetAsset:
    def read(run: Run, partition: str) -> Iterator[pa.RecordBatch]:
        malformed: list[MalformedLog] = []
        count = 0
        for logs in run.inputs[LOGS.name][partition].iter_batches(probe=event.probe):
            decoded = event(logs)
            count += len(decoded.malformed)
            malformed.extend(decoded.malformed[: MALFORMED_SAMPLES - len(malformed)])
            yield decoded.batch
        if count:
            run.log.warning(f"{event.dataset.name} {partition}: {count} malformed logs, e.g. {malformed[0]}")
        run.note(partition, malformed_logs=count)
        samples = dg.MetadataValue.md(_malformed_table(malformed))
        run.check(NO_MALFORMED_LOGS, partition, AuditResult(count == 0, {"malformed_logs": count, "samples": samples}))

    return DatasetAsset(
        dataset=event.dataset, group=group, origin=f"Decoded from `{LOGS.name}`", source=stateless(read),
        inputs=(LOGS,),
        checks=(ExtractCheck(NO_MALFORMED_LOGS, "Logs with this dataset's signature that fit no standard shape",
                             warn_only=True),))


def _malformed_table(samples: list[MalformedLog]) -> str:
    lines = ["| block | log index | transaction | reason |", "|---|---|---|---|"]
    lines += [f"| {m.block_number} | {m.log_index} | {m.transaction_hash} | {m.reason} |" for m in samples]
    return "\n".join(lines)
