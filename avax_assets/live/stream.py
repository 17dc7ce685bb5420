"""What the live path carries, declared once: its datasets (the chain family's declarations, so the same
topics, keys and tables as the daily batch), the manifest topic, and the manifest that closes each step.

A step is a run of consecutive accepted blocks published in one Kafka transaction: every row of every
dataset, then one manifest saying how many rows of each dataset each block has. A consumer loads a step
only once it holds all of them, so a step read across several polls is never loaded in part. Avalanche's
Snowman consensus makes an accepted block final: a step, once published, is never revised (no reorgs
to undo); the follower reads nothing past the node's `latest` block (`eth_blockNumber`), which under
Helicon (ACP-194) is the last executed one: receipts exist only up to it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import msgspec
import pyarrow as pa

from avax_assets.chain.datasets import BLOCKS, INTERNAL_TRANSACTIONS, LOGS, TRANSACTIONS
from avax_assets.chain.settings import RpcSettings
from avax_assets.core.schema import Dataset
from avax_assets.tokens.decode import EVENTS as TRANSFER_EVENTS

ORIGIN = ("origin", b"live")  # a header on every live message; the daily batch's messages have none
TRANSFERS = tuple(event.dataset for event in TRANSFER_EVENTS)
LIVE_DATASETS = (BLOCKS, TRANSACTIONS, LOGS, *TRANSFERS)
TRACED = (INTERNAL_TRANSACTIONS,)  # only with AVAX_LIVE_TRACES (debug_traceBlockByNumber)


MAX_PAUSE_S = 30.0  # the longest wait before a live service tries a transient failure again


def next_pause(pause: float) -> float:
    """The wait before the next try: 1 s, then doubling, at most MAX_PAUSE_S."""
    return min(MAX_PAUSE_S, max(1.0, pause * 2))


@dataclass(frozen=True)
class LiveChain:
    """One chain's live path, derived from the chain's id and name so that chains never share a topic, a
    consumer group or a transactional id: its datasets (the chain family's, bound to the chain), its manifest
    topic `avalanche.live.<chain id>` and request topic, and the names its Kafka clients take.

    name           the configured chain's name (its variables' scope); None for the home chain
    node_variable  the variable of its node's URL, for messages
    """

    chain_id: int
    name: str | None = None
    traces: bool = False
    node_variable: str = "AVAX_RPC_URL"

    @classmethod
    def of(cls, chain: RpcSettings, traces: bool) -> LiveChain:
        """The live path of a configured chain."""
        return cls(chain.chain_id, chain.scope, traces, chain.variable("url"))

    @property
    def manifest_topic(self) -> str:
        return f"avalanche.live.{self.chain_id}"

    @property
    def request_topic(self) -> str:
        return f"{self.manifest_topic}.requests"

    @property
    def one_partition_topics(self) -> tuple[str, ...]:
        """Topics read in the order they were written."""
        return self.manifest_topic, self.request_topic

    @property
    def datasets(self) -> tuple[Dataset, ...]:
        prefix = (self.name,) if self.name else ()
        return tuple(d.on(self.chain_id, prefix) for d in LIVE_DATASETS + (TRACED if self.traces else ()))

    def named(self, base: str) -> str:
        """A consumer group or transactional id of this chain's live path, from the one of the home chain's."""
        return base if self.name is None else f"{base}.{self.name}"

    @property
    def label(self) -> str:
        """How log lines name it."""
        return f"chain {self.name} ({self.chain_id})" if self.name else f"chain {self.chain_id}"


class Manifest(msgspec.Struct):
    first_block: int
    last_block: int
    head: int  # the accepted head when the step was published
    newest_timestamp: int  # the last block's timestamp (Unix seconds)
    published_at: float  # wall clock, Unix seconds
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # dataset → block (as text) → rows
    last_hash: str = ""  # the last block's hash: a follower resumes only on the chain it published

    @property
    def key(self) -> bytes:
        return f"{self.first_block}-{self.last_block}".encode()

    def rows_of(self, dataset: str, block: int) -> int:
        return self.rows.get(dataset, {}).get(str(block), 0)


def manifest_of(parts: list[tuple[Dataset, pa.RecordBatch]], blocks: range, head: int, published_at: float) -> Manifest:
    """The manifest of a step: `parts` starts with the blocks dataset's batch."""
    rows = {dataset.name: {str(b): n for b, n in Counter(batch.column("block_number").to_pylist()).items()}
            for dataset, batch in parts}
    headers = parts[0][1]
    newest = headers.column("block_timestamp")[-1].value if headers.num_rows else 0
    last_hash = headers.column("block_hash")[-1].as_py() if headers.num_rows else ""
    return Manifest(blocks.start, blocks.stop - 1, head, newest, published_at, rows, last_hash)


class BlockOf(msgspec.Struct):
    block_number: int


block_of = msgspec.json.Decoder(BlockOf).decode  # a message's block, without decoding the rest
encode_manifest = msgspec.json.encode
decode_manifest = msgspec.json.Decoder(Manifest).decode
