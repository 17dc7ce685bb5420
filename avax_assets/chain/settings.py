"""The C-Chain node's settings (JSON-RPC): declared once, read by the client, the reader and the resource."""

from __future__ import annotations

from enum import Enum
from typing import Optional

from avax_assets.core.config import HttpUrl, Settings, setting
from avax_assets.core.http import Patience


class BlocksSource(str, Enum):
    """Where blocks and transactions come from (logs and traces always come over JSON-RPC)."""
    rpc = "rpc"
    data_api = "data_api"  # the AvaCloud Data API's per-block endpoints


class ReceiptsMethod(str, Enum):
    auto = "auto"  # eth_getBlockReceipts, falling back to eth_getTransactionReceipt
    block = "block"
    transaction = "transaction"


class TraceMethod(str, Enum):
    auto = "auto"  # debug_traceBlockByNumber, then trace_block
    debug = "debug"
    parity = "parity"




class RpcSettings(Settings):
    """C-Chain JSON-RPC. The public node allows batches of 40 and eth_getLogs over 2048 blocks, and serves no
    traces: internal transactions need a trace URL (or the RPC URL) on a node with the debug or trace API."""

    url: HttpUrl = setting("http://127.0.0.1:8545", "AVAX_RPC_URL", "The node's JSON-RPC URL (may hold an API key).",
                           secret=True)
    trace_url: Optional[HttpUrl] = setting(None, "AVAX_TRACE_RPC_URL", "A node with the debug or trace API for "
                                           "internal transactions; unset: the RPC URL.", secret=True)
    trace_method: TraceMethod = setting(TraceMethod.auto, "AVAX_RPC_TRACE_METHOD", "debug_traceBlockByNumber "
                                        "(debug), trace_block (parity), or auto: debug, then parity.")
    receipts: ReceiptsMethod = setting(ReceiptsMethod.auto, "AVAX_RPC_RECEIPTS", "eth_getBlockReceipts (block), "
                                       "eth_getTransactionReceipt (transaction), or auto: block, falling back.")
    blocks_source: BlocksSource = setting(BlocksSource.rpc, "AVAX_BLOCKS_SOURCE", "Where blocks and transactions "
                                          "come from: rpc, or the AvaCloud Data API (data_api).")
    batch_size: int = setting(40, "AVAX_RPC_BATCH_SIZE", "Calls per JSON-RPC batch request.", gt=0, le=1000)
    concurrency: int = setting(4, "AVAX_RPC_CONCURRENCY", "Batch requests in flight at once.", gt=0, le=64)
    logs_block_range: int = setting(2048, "AVAX_RPC_LOGS_BLOCK_RANGE", "Blocks per eth_getLogs call.", gt=0, le=100_000)
    chunk_blocks: int = setting(200, "AVAX_RPC_CHUNK_BLOCKS", "Blocks per extracted chunk: one Arrow batch "
                                "(bounds memory).", gt=0, le=10_000)
    trace_batch_size: int = setting(1, "AVAX_RPC_TRACE_BATCH_SIZE", "Blocks per trace request (a dense block's "
                                    "traces take the node seconds).", gt=0, le=100)
    timeout_s: float = setting(30.0, "AVAX_RPC_TIMEOUT_S", "Seconds per connect or read.", gt=0, le=600)
    deadline_s: float = setting(60.0, "AVAX_RPC_DEADLINE_S", "Seconds for a whole answer.", gt=0, le=3600)
    max_attempts: int = setting(5, "AVAX_RPC_MAX_ATTEMPTS", "Tries per request (transient failures only).", gt=0, le=20)
    backoff_base_s: float = setting(0.5, "AVAX_RPC_BACKOFF_BASE_S", "Seconds before the first retry; doubles "
                                    "each time, jittered.", gt=0, le=60)
    backoff_max_s: float = setting(30.0, "AVAX_RPC_BACKOFF_MAX_S", "Most seconds between retries.", gt=0, le=600)
    max_response_mb: float = setting(32.0, "AVAX_RPC_MAX_RESPONSE_MB", "MiB an answer may have; a larger one is "
                                     "refused unread.", gt=0, le=1024)

    @property
    def patience(self) -> Patience:
        return Patience.of(self, "AVAX_TRACE_RPC_URL" if self.url == self.trace_url else "AVAX_RPC_URL")

    def tracing(self) -> RpcSettings:
        """The settings of the trace node (the RPC node's own when no trace URL is set)."""
        return self.model_copy(update={"url": self.trace_url}) if self.trace_url else self


RPC = RpcSettings()
