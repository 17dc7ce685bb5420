"""The events family's declarations: each dataset is one event of a JSON ABI file in `abis/` (interface
data), decoded from the stored `logs` partition. Adding an event is one ABI file and one `declare(...)`.

    name       dataset, table, and topic `avalanche.events.<name>.43114`
    contracts  the emitters to decode; none for a standard event (any emitter of its topic0)
    pool       the emitter is a DEX pool: its kind and the two calls that give its tokens (dex_pools)
    token      the emitter is itself a token (its metadata goes to `tokens`)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from avax_assets.chain.datasets import BLOCK_POSITION, TRANSACTIONS
from avax_assets.core.schema import CHAIN_ID, HEX, TEXT, U32, Column, Dataset, ParentLink
from avax_assets.events.abi import AbiEvent, snake_case

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

    def emitted_by(self, contracts: tuple[str, ...]) -> DecodedEvent:
        """The same event from other contracts (another chain's deployment of them)."""
        said = f" emitted by {', '.join(self.contracts)}"
        description = self.dataset.description.replace(said, f" emitted by {', '.join(contracts)}")
        return replace(self, dataset=replace(self.dataset, description=description),
                       contracts=tuple(c.lower() for c in contracts))

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


# ICM: TeleporterMessenger v1.0.0, at one address on every chain (Nick's method, or the L1's genesis); its events
# and this address checked against ava-labs/icm-contracts (contracts/teleporter, v1.0.0 and main).
TELEPORTER_MESSENGER = "0x253b2784c75e510dd0ff1da844684a1ac0aa5fcf"
HEX_ID = "bytes32, lower-case hex"


def _teleporter_message(argument: str) -> dict[str, str]:
    """The descriptions of a flattened TeleporterMessage argument's columns."""
    return {f"{argument}_message_nonce": "the message's nonce on its source chain's messenger (from 1)",
            f"{argument}_origin_sender_address": "who sent the message on the source chain (a contract or account)",
            f"{argument}_destination_blockchain_id": f"the chain the message is for, {HEX_ID}",
            f"{argument}_destination_address": "the contract it is delivered to on the destination chain",
            f"{argument}_required_gas_limit": "gas the relayer must give the message's execution, gas",
            f"{argument}_allowed_relayer_addresses": "the relayers allowed to deliver it (empty: any), JSON",
            f"{argument}_receipts": "receipts carried back, of messages the sending chain received from the "
                                    "destination chain: [{receivedMessageNonce, relayerRewardAddress}], JSON",
            f"{argument}_message": "the payload delivered to the destination address, lower-case hex"}


def _fee_info(argument: str, what: str) -> dict[str, str]:
    return {f"{argument}_fee_token_address": "the ERC-20 the relayer's fee is paid in (zero address: no fee)",
            f"{argument}_amount": f"{what}, token base units"}


MESSAGE_ID = {"message_id": "keccak-256 of (messenger, source blockchain id, destination blockchain id, nonce), "
                            "the same on both chains"}


def _teleporter(event: str, description: str, columns: dict[str, str]) -> DecodedEvent:
    return declare(f"teleporter_{snake_case(event)}", "teleporter_messenger.json", event, description,
                   contracts=(TELEPORTER_MESSENGER,), columns={**MESSAGE_ID, **columns})


TELEPORTER_SEND = _teleporter(
    "SendCrossChainMessage", "ICM (Teleporter) messages sent from this chain.",
    {"destination_blockchain_id": "the chain the message is for", **_teleporter_message("message"),
     **_fee_info("fee_info", "the fee for the relayer that delivers it (as the messenger received it)")})
TELEPORTER_RECEIVE = _teleporter(
    "ReceiveCrossChainMessage", "ICM (Teleporter) messages delivered to this chain.",
    {"source_blockchain_id": "the chain that sent the message",
     "deliverer": "the relayer account that delivered it",
     "reward_redeemer": "the address the relayer named for its reward on the source chain (zero: none)",
     **_teleporter_message("message")})
TELEPORTER_EXECUTED = _teleporter(
    "MessageExecuted", "ICM (Teleporter) messages executed on this chain (at delivery, or on a retry).",
    {"source_blockchain_id": "the chain that sent the message"})
TELEPORTER_EXECUTION_FAILED = _teleporter(
    "MessageExecutionFailed", "ICM (Teleporter) messages delivered to this chain whose execution failed (kept "
    "for a retry; the message still counts as delivered).",
    {"source_blockchain_id": "the chain that sent the message", **_teleporter_message("message")})
TELEPORTER_RECEIPT = _teleporter(
    "ReceiptReceived", "Receipts reaching the chain that sent an ICM (Teleporter) message: the message was "
    "delivered, and its fee is now owed to the relayer's reward address.",
    {"destination_blockchain_id": "the chain the message was delivered to",
     "relayer_reward_address": "who may redeem the fee",
     **_fee_info("fee_info", "the fee owed to the relayer")})
TELEPORTER_FEE_ADDED = _teleporter(
    "AddFeeAmount", "Fees added to an ICM (Teleporter) message not yet delivered.",
    _fee_info("updated_fee_info", "the message's whole fee after the addition"))
TELEPORTER_REWARDS_REDEEMED = _teleporter(
    "RelayerRewardsRedeemed", "Relayer fees redeemed from the ICM (Teleporter) messenger.",
    {"redeemer": "the relayer reward address paid", "asset": "the ERC-20 paid",
     "amount": "fees paid out, token base units"})
TELEPORTER_BLOCKCHAIN_ID = _teleporter(
    "BlockchainIDInitialized", "The ICM (Teleporter) messenger learning its own chain's blockchain id (once per "
    "chain, before its first message).", {"blockchain_id": "this chain's"})
TELEPORTER_EVENTS = (TELEPORTER_SEND, TELEPORTER_RECEIVE, TELEPORTER_EXECUTED, TELEPORTER_EXECUTION_FAILED,
                     TELEPORTER_RECEIPT, TELEPORTER_FEE_ADDED, TELEPORTER_REWARDS_REDEEMED, TELEPORTER_BLOCKCHAIN_ID)

# the wrapped native token's events: on another chain, its own deployment's (AVAX_<NAME>_WRAPPED_NATIVE)
WRAPPED_NATIVE_EVENTS = (WAVAX_DEPOSIT, WAVAX_WITHDRAWAL)
EVENTS = (LB_SWAP, UNISWAP_V2_SWAP, UNISWAP_V2_SYNC, UNISWAP_V3_SWAP, WAVAX_DEPOSIT, WAVAX_WITHDRAWAL,
          *TELEPORTER_EVENTS)
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
