"""The events family's declarations: each dataset is one event of a JSON ABI file in `abis/` (interface
data), decoded from the stored `logs` partition. Adding an event is one ABI file and one `declare(...)`.

    name       dataset, table, and topic `avalanche.events.<name>.43114`
    contracts  the emitters to decode; none for a standard event (any emitter of its topic0)
    pool       the emitter is a DEX pool: its kind and the two calls that give its tokens (dex_pools)
    token      the emitter is itself a token (its metadata goes to `tokens`)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from avax_assets.chain.datasets import BLOCK_POSITION, TRANSACTIONS
from avax_assets.core.schema import CHAIN_ID, HEX, TEXT, U32, Column, Dataset, ParentLink
from avax_assets.events.abi import AbiEvent

ABIS = Path(__file__).parent / "abis"
EVENT_POSITION = (
    *BLOCK_POSITION,
    Column("transaction_hash", HEX),
    Column("transaction_index", U32),
    Column("log_index", U32),
    Column("contract_address", HEX, description="the contract that emitted the event"),
)
POSITION_FROM_LOG = tuple(c.name for c in EVENT_POSITION if c.name != "contract_address")  # same names in logs
WAVAX = "0xb31f66aa3c1e785363f0875a1b74e27b85fd66c7"  # Wrapped AVAX on the C-Chain


@dataclass(frozen=True)
class PoolKind:
    """A DEX pool kind: its name in the swaps view and the no-argument calls that return its two tokens."""

    dex: str
    token_calls: tuple[str, str]


UNISWAP_V2 = PoolKind("uniswap_v2", ("token0()", "token1()"))
UNISWAP_V3 = PoolKind("uniswap_v3", ("token0()", "token1()"))
LIQUIDITY_BOOK = PoolKind("liquidity_book", ("getTokenX()", "getTokenY()"))


@dataclass(frozen=True)
class DecodedEvent:
    """A dataset decoded from logs by one ABI event."""

    abi_event: AbiEvent
    dataset: Dataset
    contracts: tuple[str, ...] = ()
    pool: PoolKind | None = None
    token: bool = False

    @property
    def topic0(self) -> str:
        return self.abi_event.topic0

    def decode_log(self, log: dict) -> list[dict]:
        position = {name: log[name] for name in POSITION_FROM_LOG}
        return [{**position, "contract_address": log["address"], **self.abi_event.decode(log)}]


def declare(name: str, abi: str, event: str, description: str, contracts: tuple[str, ...] = (),
            pool: PoolKind | None = None, token: bool = False,
            columns: dict[str, str] | None = None) -> DecodedEvent:
    """`columns` describes argument columns (by their snake_case names) with their units."""
    abi_event = AbiEvent.load(ABIS / abi, event, taken=frozenset(c.name for c in EVENT_POSITION))
    emitters = f" emitted by {', '.join(contracts)}" if contracts else " from any contract"
    dataset = Dataset(
        name=name,
        topic=f"avalanche.events.{name}.{CHAIN_ID}", chain_id=CHAIN_ID,
        description=f"{description} `{abi_event.signature}`{emitters}, decoded by the ABI in `events/abis/{abi}`.",
        key=("block_number", "log_index"),
        parent=ParentLink(TRANSACTIONS, on=("transaction_hash",)),
        columns=(*EVENT_POSITION, *abi_event.column_declarations(columns or {})),
    )
    return DecodedEvent(abi_event, dataset, tuple(a.lower() for a in contracts), pool, token)


BASE = "token base units"
LB_SWAP = declare(
    "lb_swap", "lb_pair.json", "Swap", "Trader Joe Liquidity Book (v2.1/v2.2) swaps.", pool=LIQUIDITY_BOOK,
    columns={"id": "the bin the swap crossed",
             "amounts_in": f"amounts paid in, packed: token X in the low 128 bits, token Y in the high 128, {BASE}",
             "amounts_out": f"amounts paid out, packed as amounts_in, {BASE}",
             "volatility_accumulator": "the pair's volatility accumulator after the swap",
             "total_fees": f"fees, packed as amounts_in, {BASE}",
             "protocol_fees": f"the protocol's share of the fees, packed as amounts_in, {BASE}"})
UNISWAP_V2_SWAP = declare(
    "uniswap_v2_swap", "uniswap_v2_pair.json", "Swap", "Uniswap-V2-style pair swaps (Trader Joe v1, Pangolin…).",
    pool=UNISWAP_V2,
    columns={"amount0_in": f"token0 paid in, {BASE}", "amount1_in": f"token1 paid in, {BASE}",
             "amount0_out": f"token0 paid out, {BASE}", "amount1_out": f"token1 paid out, {BASE}"})
UNISWAP_V2_SYNC = declare(
    "uniswap_v2_sync", "uniswap_v2_pair.json", "Sync", "Uniswap-V2-style pair reserves after each change.",
    pool=UNISWAP_V2,
    columns={"reserve0": f"token0 reserve, {BASE}", "reserve1": f"token1 reserve, {BASE}"})
UNISWAP_V3_SWAP = declare(
    "uniswap_v3_swap", "uniswap_v3_pool.json", "Swap", "Uniswap-v3-style pool swaps.", pool=UNISWAP_V3,
    columns={"amount0": f"token0 moved, from the pool's side (> 0 paid in, < 0 paid out), {BASE}",
             "amount1": f"token1 moved, from the pool's side (> 0 paid in, < 0 paid out), {BASE}",
             "sqrt_price_x96": f"√(token1 per token0, {BASE}) as a Q64.96 number after the swap",
             "liquidity": f"in-range liquidity after the swap, √(token0 · token1) {BASE}",
             "tick": "the pool's tick after the swap"})
WAVAX_DEPOSIT = declare(
    "wavax_deposit", "wavax.json", "Deposit", "AVAX wrapped into WAVAX.", contracts=(WAVAX,), token=True,
    columns={"wad": "AVAX wrapped, wei"})
WAVAX_WITHDRAWAL = declare(
    "wavax_withdrawal", "wavax.json", "Withdrawal", "WAVAX unwrapped to AVAX.", contracts=(WAVAX,), token=True,
    columns={"wad": "AVAX unwrapped, wei"})

EVENTS = (LB_SWAP, UNISWAP_V2_SWAP, UNISWAP_V2_SYNC, UNISWAP_V3_SWAP, WAVAX_DEPOSIT, WAVAX_WITHDRAWAL)
POOL_EVENTS = tuple(e for e in EVENTS if e.pool)

DEX_POOLS = Dataset(
    name="dex_pools",
    topic=f"avalanche.dex-pools.{CHAIN_ID}", chain_id=CHAIN_ID,
    description="Every DEX pool that emitted a declared pool event that day, with its two tokens, read with "
                "eth_call at the day's last block.",
    key=("block_number", "pool_address"),  # one row per pool per day: a compacted topic keeps every day
    columns=(
        *BLOCK_POSITION,
        Column("pool_address", HEX),
        Column("dex", TEXT, description="pool kind: " + ", ".join(sorted({e.pool.dex for e in POOL_EVENTS}))),
        Column("token0", HEX, nullable=True, description="token0 (token X for Liquidity Book); null when the "
                                                          "call failed (see call_errors)"),
        Column("token1", HEX, nullable=True, description="token1 (token Y for Liquidity Book)"),
        Column("call_errors", TEXT, nullable=True, description="canonical JSON: call → why its column is null"),
    ),
)
