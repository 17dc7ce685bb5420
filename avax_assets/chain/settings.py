"""An EVM chain's settings — what it is (chain id, blockchain id, network, VM, native token) and its node's
JSON-RPC — declared once, read by the client, the reader, the resource and the catalogue. The home chain (the
C-Chain by default) reads AVAX_RPC_URL, AVAX_CHAIN_ID, …; each other chain named in AVAX_CHAINS reads the same
variables with its name after AVAX_ (AVAX_DFK_RPC_URL, AVAX_DFK_CHAIN_ID, …)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import re

from avax_assets.core.config import HttpUrl, Settings, rule, setting
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




class Network(str, Enum):
    mainnet = "mainnet"
    fuji = "fuji"  # the testnet
    local = "local"  # a local node (the devchain)


class Vm(str, Enum):
    """The chain's VM, which says which header fields and extras its blocks have."""
    coreth = "coreth"  # the C-Chain (mainnet or Fuji): atomic transactions in blockExtraData
    subnet_evm = "subnet_evm"  # an Avalanche L1's EVM: no atomic transactions


def _chain_name(text: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", text):
        raise ValueError(f"a chain's name is lower-case letters, digits and underscores (e.g. dfk), not {text!r}")


def _cb58(text: str | None) -> None:
    if text is not None and not re.fullmatch(r"[1-9A-HJ-NP-Za-km-z]{30,60}", text):
        raise ValueError(f"must be a blockchain id in CB58 (as the P-Chain lists it), not {text!r}")


def _symbol(text: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9.$_-]{1,16}", text):
        raise ValueError(f"a token symbol is 1-16 letters, digits or . $ _ -, not {text!r}")


def _address(text: str | None) -> None:
    if text is not None and not re.fullmatch(r"0x[0-9a-f]{40}", text):
        raise ValueError(f"must be a lower-case 0x-prefixed address, not {text!r}")


class ChainsSettings(Settings):
    """Which EVM chains are ingested: the home chain always, and the chains named here."""

    others: list[Annotated[str, rule(_chain_name)]] = setting(
        [], "AVAX_CHAINS", "Other EVM chains to ingest beside the home chain, by name (comma-separated): each is "
        "configured by the chain and live settings with its name after AVAX_ (AVAX_<NAME>_RPC_URL, "
        "AVAX_<NAME>_CHAIN_ID, AVAX_<NAME>_LIVE_…) and gets its own assets (key prefix <name>/), job, schedule, "
        "RPC pool and live path.")


class RpcSettings(Settings):
    """An EVM chain and its node's JSON-RPC. The public C-Chain node allows batches of 40 and eth_getLogs over
    2048 blocks, and serves no traces: internal transactions need a trace URL (or the RPC URL) on a node with the
    debug or trace API."""

    chain_id: int = setting(43114, "AVAX_CHAIN_ID", "The chain's EVM chain id (C-Chain 43114, Fuji 43113): every row's "
                            "chain_id and its topics' suffix; a node answering another eth_chainId is refused.",
                            gt=0, le=2**53)
    blockchain_id: Optional[Annotated[str, rule(_cb58)]] = setting(None, "AVAX_BLOCKCHAIN_ID", "The chain's "
                                                                   "blockchain id on the P-Chain (CB58), which ICM "
                                                                   "messages name.")
    network: Network = setting(Network.mainnet, "AVAX_NETWORK", "mainnet, fuji or local.")
    vm: Vm = setting(Vm.coreth, "AVAX_CHAIN_VM", "coreth (a C-Chain: atomic transactions decoded) or subnet_evm "
                     "(an L1).")
    serves_traces: bool = setting(True, "AVAX_CHAIN_TRACING", "Whether the node (or the trace URL) serves debug or "
                                  "trace calls; false: no internal_transactions for this chain.")
    native_symbol: Annotated[str, rule(_symbol)] = setting("AVAX", "AVAX_NATIVE_SYMBOL", "The native token's symbol "
                                                          "(an L1 has its own).")
    native_decimals: int = setting(18, "AVAX_NATIVE_DECIMALS", "The native token's decimals.", ge=0, le=36)
    wrapped_native: Optional[Annotated[str, rule(_address)]] = setting(
        None, "AVAX_WRAPPED_NATIVE", "The wrapped native token's address (the C-Chain's WAVAX is "
        "0xb31f66aa3c1e785363f0875a1b74e27b85fd66c7), lower-case hex.")

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
    trace_timeout_s: Optional[float] = setting(None, "AVAX_RPC_TRACE_TIMEOUT_S", "Seconds the node may trace one "
                                               "transaction (the callTracer's `timeout`; geth's and coreth's own: "
                                               "5 s); unset: the node's own.", ge=1, le=3600)
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
        return Patience.of(self, self.variable("trace_url" if self.url == self.trace_url else "url"))

    @property
    def name(self) -> str:
        """How messages name the chain: its settings' scope, or the home chain's id."""
        return self.scope or f"the home chain ({self.chain_id})"

    def tracing(self) -> RpcSettings:
        """The settings of the trace node (the RPC node's own when no trace URL is set)."""
        return self.model_copy(update={"url": self.trace_url}) if self.trace_url else self


RPC = RpcSettings()
