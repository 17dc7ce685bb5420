"""A deterministic synthetic C-Chain for benchmarks (dev tooling, not the product): every block made on the
fly from (seed, height) at a chosen density, rendered once into the JSON a coreth node answers with.

Today's mainnet mix by default: about 43,200 blocks, 2.5 M transactions and 8 M logs a day. `scale` keeps
each block as dense and makes fewer of them (0.1: a block every 20 s, 4,320 a day), so a partition of any
size is a whole UTC day. The mix: AVAX transfers, ERC-20 transfers and approvals, WAVAX deposits and
withdrawals, Uniswap-V2, Uniswap-V3 and Liquidity Book swaps (alone and chained by aggregators and bots),
ERC-721 and ERC-1155 (single and batch) transfers, contract creations and reverted swaps. Events carry the
topics the tokens and events families declare and data of exactly their ABI's shape.

What holds, and what does not:
  - the hash chain: each parentHash is the hash of the block before; hashes are pseudo-random, not the
    keccak of the header, and end in the block's number (a transaction hash ends in its block's number and
    index), so a block, transaction or receipt can be served by hash
  - receipts ↔ transactions ↔ logs: positions, hashes, counts, cumulative gas, log indexes
  - blooms are real: each receipt's logsBloom sets the bits of its logs' addresses and topics, and the
    block's is their union. Under Helicon (`era="helicon"`, the default) the header carries the settlement
    fields, and by ACP-194 its bloom no longer has to summarise the block's own receipts (ours still does)
  - the roots (state, transactions, receipts) and signatures are pseudo-random; nonces are not an
    account's sequence; no balance or state is kept: eth_call answers only the token and pool getters
  - call traces (callTracer) are made to match each transaction's kind, value and outcome
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import msgspec
from eth_hash.auto import keccak

from avax_assets.events.datasets import (LB_SWAP, UNISWAP_V2_SWAP, UNISWAP_V2_SYNC, UNISWAP_V3_SWAP, WAVAX,
                                         WAVAX_DEPOSIT, WAVAX_WITHDRAWAL)
from avax_assets.tokens.decode import TRANSFER, TRANSFER_BATCH, TRANSFER_SINGLE

DAY_SECONDS = 86_400
MAINNET_BLOCKS_PER_DAY = 43_200  # a block every 2 s
MAINNET_TXS_PER_DAY = 2_500_000
MAINNET_LOGS_PER_DAY = 8_000_000
CHAIN_ID = 43114
APPROVAL = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
OWNERSHIP_TRANSFERRED = "0x8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e0"
EMPTY_ROOT = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
EMPTY_UNCLES = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
ZERO_HASH = "0x" + "0" * 64
ZERO_WORD = "0" * 64
COINBASE = "0x0100000000000000000000000000000000000000"  # the C-Chain's blackhole: fees are burnt
UINT256 = 2**256 - 1
GWEI = 10**9
ERAS = ("helicon", "granite")
CHAIN_ID_HEX = hex(CHAIN_ID)
R_S = 2**255 - 1  # signature values: below the curve order
NONCES = 1 << 20
# the declared events' topic0s (a property computing keccak each time: read once)
V2_SWAP, V2_SYNC, V3_SWAP, LB = (UNISWAP_V2_SWAP.topic0, UNISWAP_V2_SYNC.topic0, UNISWAP_V3_SWAP.topic0,
                                 LB_SWAP.topic0)
DEPOSIT, WITHDRAWAL = WAVAX_DEPOSIT.topic0, WAVAX_WITHDRAWAL.topic0


def word(value: int) -> str:
    """A 32-byte ABI word (two's complement for a negative integer)."""
    return "%064x" % (value & UINT256)


def padded(address: str) -> str:
    """An address as a topic."""
    return "0x000000000000000000000000" + address[2:]


@dataclass(frozen=True)
class ChainSpec:
    """`first_height`: the number of the first day's first block (blocks below it are served too, earlier
    in time, so a day's block range is found by the same search as on mainnet)."""

    seed: int = 1
    start: dt.date = dt.date(2026, 9, 24)
    days: int = 1
    scale: float = 1.0
    txs_per_day: int = MAINNET_TXS_PER_DAY  # at mainnet's block rate (scale 1)
    logs_per_day: int = MAINNET_LOGS_PER_DAY
    era: str = "helicon"
    first_height: int = 96_000_000

    def __post_init__(self) -> None:
        if self.era not in ERAS:
            raise ValueError(f"era must be one of {', '.join(ERAS)}, not {self.era!r}")
        if not 0 < self.scale <= 10 or self.days < 1:
            raise ValueError("scale must be in (0, 10] and days >= 1")

    @property
    def blocks_per_day(self) -> int:
        return max(1, round(MAINNET_BLOCKS_PER_DAY * self.scale))

    @property
    def txs_per_block(self) -> float:
        return self.txs_per_day / MAINNET_BLOCKS_PER_DAY

    @property
    def logs_per_tx(self) -> float:
        return self.logs_per_day / self.txs_per_day

    @property
    def head(self) -> int:
        """The latest block: one past the last day's first block after it (so the last day is complete)."""
        return self.first_height + self.days * self.blocks_per_day + 1

    def day_blocks(self, day: dt.date) -> range:
        index = (day - self.start).days
        first = self.first_height + index * self.blocks_per_day
        return range(first, first + self.blocks_per_day)

    def timestamp_ms(self, number: int) -> int:
        start_ms = int(dt.datetime.combine(self.start, dt.time(), dt.timezone.utc).timestamp()) * 1000
        return max(0, start_ms + (number - self.first_height) * DAY_SECONDS * 1000 // self.blocks_per_day)


# --- the cast: accounts and contracts, fixed by the seed ---------------------------------------------

def _addresses(seed: int, kind: str, count: int) -> list[str]:
    prefix = f"{seed}:{kind}:".encode()
    return ["0x" + hashlib.blake2b(prefix + str(i).encode(), digest_size=20).hexdigest() for i in range(count)]


@dataclass(frozen=True)
class Pool:
    address: str
    token0: str  # token X for a Liquidity Book pair
    token1: str


class Cast:
    """The accounts and contracts of the chain. Popular ones are drawn more often (`pick`)."""

    def __init__(self, seed: int) -> None:
        self.accounts = _addresses(seed, "account", 100_000)
        self.tokens = [WAVAX, *_addresses(seed, "erc20", 2_999)]
        self.nfts = _addresses(seed, "erc721", 400)
        self.multis = _addresses(seed, "erc1155", 150)
        self.v2_pools = self._pools(seed, "v2", 600)
        self.v3_pools = self._pools(seed, "v3", 300)
        self.lb_pools = self._pools(seed, "lb", 400)
        self.routers = _addresses(seed, "router", 3)  # V2, V3, Liquidity Book
        self.aggregators = _addresses(seed, "aggregator", 4)
        self.bots = _addresses(seed, "bot", 200)
        self.padded = {a: padded(a) for a in [*self.accounts, *self.routers, *self.aggregators, *self.bots,
                                              *(p.address for p in (*self.v2_pools, *self.v3_pools, *self.lb_pools))]}
        self.by_address = {p.address: p for p in (*self.v2_pools, *self.v3_pools, *self.lb_pools)}
        self.token_index = {t: i for i, t in enumerate(self.tokens)}

    def _pools(self, seed: int, kind: str, count: int) -> list[Pool]:
        pools = []
        for i, address in enumerate(_addresses(seed, kind + "-pool", count)):
            # most pools pair WAVAX with another token; the popular tokens sit in the most pools
            digest = hashlib.blake2b(f"{seed}:{kind}:{i}".encode(), digest_size=8).digest()
            other = 1 + int.from_bytes(digest[:4]) % 400
            first = 0 if digest[4] < 180 else 1 + int.from_bytes(digest[5:8]) % 60
            a, b = (self.tokens[first], self.tokens[other if other != first else first + 1])
            pools.append(Pool(address, *sorted((a, b))))
        return pools

    @staticmethod
    def pick(rng: random.Random, items: list, skew: float = 3.0):
        return items[int(len(items) * rng.random() ** skew)]


# --- blooms -------------------------------------------------------------------------------------------

class Blooms:
    """The 2048-bit bloom of an address or topic (three bits of its keccak), remembered: the chain's
    addresses and topics repeat, and keccak is the slow part."""

    LIMIT = 2_000_000

    def __init__(self) -> None:
        self._masks: dict[str, int] = {}

    def mask(self, value: str) -> int:
        mask = self._masks.get(value)
        if mask is None:
            digest = keccak(bytes.fromhex(value[2:]))
            mask = 0
            for i in (0, 2, 4):
                mask |= 1 << (((digest[i] << 8) | digest[i + 1]) & 2047)
            if len(self._masks) >= self.LIMIT:
                self._masks.clear()
            self._masks[value] = mask
        return mask


def bloom_hex(mask: int) -> str:
    return "0x%0512x" % mask


# --- the node's JSON shapes (coreth's field order) ------------------------------------------------------

class Log(msgspec.Struct):
    address: str
    topics: list[str]
    data: str
    blockNumber: str
    transactionHash: str
    transactionIndex: str
    blockHash: str
    logIndex: str
    removed: bool = False


class LegacyTx(msgspec.Struct, rename={"sender": "from"}):
    blockHash: str
    blockNumber: str
    sender: str
    gas: str
    gasPrice: str
    hash: str
    input: str
    nonce: str
    to: str | None
    transactionIndex: str
    value: str
    type: str
    chainId: str
    v: str
    r: str
    s: str


class DynamicFeeTx(msgspec.Struct, rename={"sender": "from"}):
    blockHash: str
    blockNumber: str
    sender: str
    gas: str
    gasPrice: str
    maxFeePerGas: str
    maxPriorityFeePerGas: str
    hash: str
    input: str
    nonce: str
    to: str | None
    transactionIndex: str
    value: str
    type: str
    accessList: list
    chainId: str
    v: str
    r: str
    s: str
    yParity: str


class Receipt(msgspec.Struct, rename={"sender": "from"}):
    blockHash: str
    blockNumber: str
    contractAddress: str | None
    cumulativeGasUsed: str
    effectiveGasPrice: str
    sender: str
    gasUsed: str
    logs: list[Log]
    logsBloom: str
    status: str
    to: str | None
    transactionHash: str
    transactionIndex: str
    type: str


# --- one block ------------------------------------------------------------------------------------

@dataclass
class Rendered:
    """A block as the node's JSON answers: its header (transaction hashes), the full block, its receipts,
    its logs (eth_getLogs' shape), and what it holds (`tally`: rows per dataset, for checks)."""

    number: int
    header: bytes
    full: bytes
    receipts: bytes
    logs: bytes
    tx_hashes: list[str]
    tally: Counter
    traces: bytes | None = None


@dataclass
class Tx:
    """A transaction being made: what its kind decided (the rest is filled in by the block)."""

    to: str | None
    value: int
    input: str
    gas_used: int
    logs: list = field(default_factory=list)  # (address, topics, data)
    frame: dict | None = None  # the callTracer frame (only when tracing)
    status: int = 1
    contract: str | None = None


Kind = Callable[["BlockMaker", str], Tx]


class BlockMaker:
    """Makes one block's transactions from its random stream. Every kind draws the same numbers whether or
    not its call frames are wanted (`traced`), so traces and the rest agree."""

    def __init__(self, chain: SyntheticChain, number: int, traced: bool) -> None:
        self.chain, self.cast, self.number, self.traced = chain, chain.cast, number, traced
        self.rng = random.Random(chain.spec.seed * 1_000_003 + number)
        self.tally: Counter = Counter()

    # numbers (random() is the cheapest draw: randrange costs several times more)
    def below(self, n: int) -> int:
        return int(self.rng.random() * n)

    def between(self, low: int, high: int) -> int:
        """low..high, both included."""
        return low + int(self.rng.random() * (high - low + 1))

    def amount(self, digits: int = 24) -> int:
        return self.rng.getrandbits(4 * digits) >> self.below(4 * digits - 8)

    def account(self) -> str:
        return self.cast.pick(self.rng, self.cast.accounts, 2.0)

    def calldata(self, selector: str, words: int) -> str:
        return "0x" + selector + ("%0*x" % (64 * words, self.rng.getrandbits(256 * words)) if words else "")

    def frame(self, kind: str, sender: str, to: str, input_: str, gas: int, gas_used: int, value: int = 0,
              output: str = "0x", calls: list | None = None, error: str | None = None) -> dict | None:
        if not self.traced:
            return None
        frame = {"from": sender, "gas": hex(gas), "gasUsed": hex(gas_used), "to": to, "input": input_}
        if output != "0x":
            frame["output"] = output
        if error:
            frame["error"] = error
        if calls:
            frame["calls"] = calls
        frame["value"] = hex(value)
        frame["type"] = kind
        return frame

    # events
    def erc20_transfer(self, token: str, sender: str, receiver: str, amount: int) -> tuple:
        self.tally["erc20_transfers"] += 1
        return token, [TRANSFER, self.topic(sender), self.topic(receiver)], "0x" + word(amount)

    def topic(self, address: str) -> str:
        return self.cast.padded.get(address) or padded(address)

    def token_call(self, token: str, sender: str, receiver: str, amount: int, by: str | None = None) -> dict | None:
        """The frame of a token moving `amount` (transfer, or transferFrom by `by`)."""
        if by is None:
            return self.frame("CALL", sender, token, "0xa9059cbb" + word(int(receiver, 16)) + word(amount),
                              60_000, 29_000, output="0x" + word(1))
        return self.frame("CALL", by, token, "0x23b872dd" + word(int(sender, 16)) + word(int(receiver, 16))
                          + word(amount), 60_000, 32_000, output="0x" + word(1))

    def hop(self, user: str, via: str, pool_kind: str) -> tuple[list, list, int]:
        """One swap through a pool of `pool_kind` paid by `user` through `via` (a router, aggregator or bot):
        its logs, its call frames and its gas."""
        pools = {"v2": self.cast.v2_pools, "v3": self.cast.v3_pools, "lb": self.cast.lb_pools}[pool_kind]
        pool = self.cast.pick(self.rng, pools)
        amount_in, amount_out = self.amount(), self.amount()
        zero_for_one = self.rng.random() < 0.5
        token_in, token_out = (pool.token0, pool.token1) if zero_for_one else (pool.token1, pool.token0)
        paid_in = self.erc20_transfer(token_in, user, pool.address, amount_in)
        paid_out = self.erc20_transfer(token_out, pool.address, user, amount_out)
        sender, receiver = self.topic(via), self.topic(user)
        if pool_kind == "v2":
            self.tally["uniswap_v2_sync"] += 1
            self.tally["uniswap_v2_swap"] += 1
            ins = (amount_in, 0) if zero_for_one else (0, amount_in)
            outs = (0, amount_out) if zero_for_one else (amount_out, 0)
            logs = [paid_in, paid_out,
                    (pool.address, [V2_SYNC],
                     "0x" + word(self.rng.getrandbits(100)) + word(self.rng.getrandbits(100))),
                    (pool.address, [V2_SWAP, sender, receiver],
                     "0x" + word(ins[0]) + word(ins[1]) + word(outs[0]) + word(outs[1]))]
            gas = 110_000
        elif pool_kind == "v3":
            self.tally["uniswap_v3_swap"] += 1
            amounts = (amount_in, -amount_out) if zero_for_one else (-amount_out, amount_in)
            tick = self.between(-887_272, 887_271)
            logs = [paid_out, paid_in,
                    (pool.address, [V3_SWAP, sender, receiver],
                     "0x" + word(amounts[0]) + word(amounts[1]) + word(self.rng.getrandbits(150))
                     + word(self.rng.getrandbits(110)) + word(tick))]
            gas = 140_000
        else:
            self.tally["lb_swap"] += 1
            packed_in = amount_in if zero_for_one else amount_in << 128
            packed_out = amount_out << 128 if zero_for_one else amount_out
            fee = amount_in // 400
            logs = [paid_in,
                    (pool.address, [LB, sender, receiver],
                     "0x" + word(self.between(8_388_000, 8_388_999)) + word(packed_in) + word(packed_out)
                     + word(self.rng.getrandbits(20)) + word(fee if zero_for_one else fee << 128)
                     + word((fee // 5) if zero_for_one else (fee // 5) << 128)),
                    paid_out]
            gas = 130_000
        frames = []
        if self.traced:
            inner = [self.token_call(token_out, pool.address, user, amount_out),
                     self.frame("STATICCALL", pool.address, token_in, "0x70a08231" + word(int(pool.address, 16)),
                                30_000, 2_600, output="0x" + word(amount_in))]
            frames = [self.token_call(token_in, user, pool.address, amount_in, by=via),
                      self.frame("CALL", via, pool.address, "0x022c0d9f" + word(amount_in) + word(amount_out)
                                 + word(int(user, 16)) + word(128), gas, gas - 40_000, calls=inner)]
        return logs, frames, gas


def _native(make: BlockMaker, sender: str) -> Tx:
    to, value = make.account(), make.amount(20)
    return Tx(to, value, "0x", 21_000, frame=make.frame("CALL", sender, to, "0x", 21_000, 0, value))


def _erc20(make: BlockMaker, sender: str) -> Tx:
    token, to, amount = make.cast.pick(make.rng, make.cast.tokens), make.account(), make.amount()
    input_ = "0xa9059cbb" + word(int(to, 16)) + word(amount)
    return Tx(token, 0, input_, 46_000 + make.below(12_000), [make.erc20_transfer(token, sender, to, amount)],
              make.frame("CALL", sender, token, input_, 65_000, 25_000, output="0x" + word(1)))


def _approve(make: BlockMaker, sender: str) -> Tx:
    token, spender = make.cast.pick(make.rng, make.cast.tokens), make.cast.pick(make.rng, make.cast.routers, 1)
    input_ = "0x095ea7b3" + word(int(spender, 16)) + word(UINT256)
    log = (token, [APPROVAL, make.topic(sender), make.topic(spender)], "0x" + word(UINT256))
    return Tx(token, 0, input_, 46_200, [log], make.frame("CALL", sender, token, input_, 60_000, 24_400,
                                                          output="0x" + word(1)))


def _wavax(make: BlockMaker, sender: str) -> Tx:
    amount = make.amount(20)
    if make.rng.random() < 0.5:
        make.tally["wavax_deposit"] += 1
        log = (WAVAX, [DEPOSIT, make.topic(sender)], "0x" + word(amount))
        return Tx(WAVAX, amount, "0xd0e30db0", 45_000, [log],
                  make.frame("CALL", sender, WAVAX, "0xd0e30db0", 60_000, 23_000, amount))
    make.tally["wavax_withdrawal"] += 1
    input_ = "0x2e1a7d4d" + word(amount)
    log = (WAVAX, [WITHDRAWAL, make.topic(sender)], "0x" + word(amount))
    refund = make.frame("CALL", WAVAX, sender, "0x", 2_300, 0, amount)
    return Tx(WAVAX, 0, input_, 36_000, [log],
              make.frame("CALL", sender, WAVAX, input_, 50_000, 14_000, calls=[refund] if refund else None))


def _swap(pool_kind: str) -> Kind:
    def swap(make: BlockMaker, sender: str) -> Tx:
        router = make.cast.routers[("v2", "v3", "lb").index(pool_kind)]
        logs, frames, gas = make.hop(sender, router, pool_kind)
        input_ = make.calldata("38ed1739", 8)
        return Tx(router, 0, input_, gas, logs, make.frame("CALL", sender, router, input_, gas * 3 // 2, gas,
                                                           calls=frames))
    return swap


def _routed(via: Callable[[BlockMaker], str], hops: tuple[int, int], selector: str) -> Kind:
    """Several hops through pools of any kind, by an aggregator (a user) or a bot (many hops)."""
    def routed(make: BlockMaker, sender: str) -> Tx:
        contract = via(make)
        logs, frames, gas = [], [], 30_000
        for _ in range(make.between(*hops)):
            hop_logs, hop_frames, hop_gas = make.hop(sender, contract, ("v2", "v3", "lb")[make.below(3)])
            logs += hop_logs
            frames += hop_frames
            gas += hop_gas
        input_ = make.calldata(selector, make.between(6, 20))
        return Tx(contract, 0, input_, gas, logs, make.frame("CALL", sender, contract, input_, gas * 3 // 2, gas,
                                                             calls=frames))
    return routed


def _erc721(make: BlockMaker, sender: str) -> Tx:
    nft, to = make.cast.pick(make.rng, make.cast.nfts), make.account()
    token_id = make.below(10_000)
    minted = make.rng.random() < 0.3
    origin = "0x" + "0" * 40 if minted else sender
    make.tally["erc721_transfers"] += 1
    log = (nft, [TRANSFER, make.topic(origin), make.topic(to), "0x" + word(token_id)], "0x")
    input_ = "0x42842e0e" + word(int(sender, 16)) + word(int(to, 16)) + word(token_id)
    return Tx(nft, 0, input_, 60_000 + make.below(40_000), [log],
              make.frame("CALL", sender, nft, input_, 120_000, 55_000))


def _erc1155(make: BlockMaker, sender: str) -> Tx:
    multi, to = make.cast.pick(make.rng, make.cast.multis), make.account()
    topics = [None, make.topic(sender), make.topic(sender), make.topic(to)]
    if make.rng.random() < 0.6:
        make.tally["erc1155_transfers"] += 1
        topics[0] = TRANSFER_SINGLE
        data = "0x" + word(make.below(1_000)) + word(make.between(1, 99))
    else:
        count = make.between(2, 6)
        make.tally["erc1155_transfers"] += count
        topics[0] = TRANSFER_BATCH
        ids = "".join(word(make.below(1_000)) for _ in range(count))
        values = "".join(word(make.between(1, 99)) for _ in range(count))
        data = "0x" + word(64) + word(64 + 32 * (count + 1)) + word(count) + ids + word(count) + values
    input_ = make.calldata("f242432a", 6)
    return Tx(multi, 0, input_, 70_000, [(multi, topics, data)],
              make.frame("CALL", sender, multi, input_, 100_000, 50_000))


def _create(make: BlockMaker, sender: str) -> Tx:
    size = make.between(1_000, 12_000)
    init = "0x%0*x" % (2 * size, make.rng.getrandbits(8 * size))
    contract = "0x" + hashlib.blake2b(f"{make.number}:{sender}:{size}".encode(), digest_size=20).hexdigest()
    logs = [(contract, [OWNERSHIP_TRANSFERRED, padded("0x" + "0" * 40), make.topic(sender)], "0x")] \
        if make.rng.random() < 0.5 else []
    gas = 53_000 + 200 * size
    make.tally["contract_creations"] += 1
    deployed = init[:2 + 2 * (size // 2)]  # the code it leaves: the first half of its init code, whole bytes
    frame = make.frame("CREATE", sender, contract, init, gas + 50_000, gas, output=deployed)
    return Tx(None, 0, init, gas, logs, frame, contract=contract)


def _reverted(make: BlockMaker, sender: str) -> Tx:
    router = make.cast.pick(make.rng, make.cast.routers, 1)
    pool = make.cast.pick(make.rng, make.cast.v2_pools)
    input_ = make.calldata("38ed1739", 8)
    inner = make.frame("CALL", router, pool.address, "0x022c0d9f" + input_[10:10 + 4 * 64], 80_000, 12_000,
                       error="execution reverted")
    make.tally["reverted"] += 1
    frame = make.frame("CALL", sender, router, input_, 200_000, 41_000, calls=[inner] if inner else None,
                       error="execution reverted", output="0x08c379a0" + word(32) + word(19)
                       + "556e697377617056323a204b00000000000000000000000000000000000000")  # "UniswapV2: K"
    if frame is not None:
        frame["revertReason"] = "UniswapV2: K"
    return Tx(router, 0, input_, 41_000, [], frame, status=0)


# (kind, share of transactions); the bots' share is set so that the mix averages the spec's logs per transaction
KINDS: tuple[tuple[str, Kind, float], ...] = (
    ("native", _native, 0.27),
    ("erc20", _erc20, 0.22),
    ("approve", _approve, 0.04),
    ("wavax", _wavax, 0.04),
    ("v2_swap", _swap("v2"), 0.09),
    ("v3_swap", _swap("v3"), 0.06),
    ("lb_swap", _swap("lb"), 0.08),
    ("aggregated", _routed(lambda m: m.cast.pick(m.rng, m.cast.aggregators, 1), (2, 3), "12aa3caf"), 0.07),
    ("erc721", _erc721, 0.03),
    ("erc1155", _erc1155, 0.025),
    ("create", _create, 0.005),
    ("reverted", _reverted, 0.03),
)
BOT_HOPS = (2, 8)


def _logs_of(kind: str) -> float:
    """Mean logs of a transaction of the kind."""
    hop = (4 + 3 + 3) / 3  # a V2, V3 or Liquidity Book swap
    if kind == "bot":
        return sum(BOT_HOPS) / 2 * hop
    return {"native": 0, "erc20": 1, "approve": 1, "wavax": 1, "v2_swap": 4, "v3_swap": 3, "lb_swap": 3,
            "aggregated": 2.5 * hop, "erc721": 1, "erc1155": 1, "create": 0.5, "reverted": 0}[kind]


def mix(logs_per_tx: float) -> tuple[list[str], list[Kind], list[float]]:
    """The kinds, their functions and cumulative shares, the bots' share making up the logs per transaction."""
    named = sum(share for _, _, share in KINDS)
    logs = sum(share * _logs_of(name) for name, _, share in KINDS)
    bots = max(0.0, (logs_per_tx * named - logs) / (_logs_of("bot") - logs_per_tx))
    kinds = [*KINDS, ("bot", _routed(lambda m: m.cast.pick(m.rng, m.cast.bots), BOT_HOPS, "00000000"), bots)]
    total = sum(share for _, _, share in kinds)
    cumulative, running = [], 0.0
    for _, _, share in kinds:
        running += share / total
        cumulative.append(running)
    return [k[0] for k in kinds], [k[1] for k in kinds], cumulative


# --- the chain ------------------------------------------------------------------------------------

class SyntheticChain:
    """Blocks of a spec, made on demand; the same spec gives byte-identical JSON, whatever the order of asking."""

    def __init__(self, spec: ChainSpec) -> None:
        self.spec = spec
        self.cast = Cast(spec.seed)
        self.blooms = Blooms()
        self.kind_names, self.kinds, self.cumulative = mix(spec.logs_per_tx)
        self._seed_bytes = str(spec.seed).encode()

    def block_hash(self, number: int) -> str:
        digest = hashlib.blake2b(self._seed_bytes + b":block:" + number.to_bytes(8), digest_size=27).hexdigest()
        return "0x%s%010x" % (digest, number)

    def _root(self, number: int, what: bytes) -> str:
        return "0x" + hashlib.blake2b(self._seed_bytes + what + number.to_bytes(8), digest_size=32).hexdigest()

    @cached_property
    def _encode(self):
        return msgspec.json.Encoder().encode

    def render(self, number: int, traced: bool = False) -> Rendered:
        """Block `number` (0..head) as the node's JSON; with `traced`, its callTracer traces too."""
        spec, mask = self.spec, self.blooms.mask
        make = BlockMaker(self, number, traced)
        random, bits = make.rng.random, make.rng.getrandbits
        count = int(random() * (2 * spec.txs_per_block + 1))
        block_hash, number_hex = self.block_hash(number), hex(number)
        base_fee = make.between(1_000_000, 3 * GWEI)
        txs, receipts, logs, hashes, traces = [], [], [], [], []
        cumulative_gas, log_index, block_bloom, size = 0, 0, 0, 620
        for index in range(count):
            sender = make.account()
            kind = bisect.bisect_right(self.cumulative, random())
            tx = self.kinds[min(kind, len(self.kinds) - 1)](make, sender)
            signature = bits(192 + 255 + 255 + 1)
            tx_hash = "0x%048x%010x%06x" % (signature >> 511, number, index)
            index_hex = hex(index)
            tip = int(random() * 2 * GWEI)
            price = base_fee + tip
            gas_limit = tx.gas_used * 5 // 4 + 5_000 if tx.gas_used > 21_000 else 21_000
            parity, r, s = signature & 1, "0x%x" % ((signature >> 256) & R_S), "0x%x" % ((signature >> 1) & R_S)
            kind_hex = "0x2"
            if random() < 0.15:
                kind_hex = "0x0"
                entry = LegacyTx(block_hash, number_hex, sender, hex(gas_limit), hex(price), tx_hash, tx.input,
                                 hex(int(random() * NONCES)), tx.to, index_hex, hex(tx.value), kind_hex, CHAIN_ID_HEX,
                                 hex(86263 + parity), r, s)
            else:
                entry = DynamicFeeTx(block_hash, number_hex, sender, hex(gas_limit), hex(price),
                                     hex(2 * base_fee + tip), hex(tip), tx_hash, tx.input, hex(int(random() * NONCES)),
                                     tx.to, index_hex, hex(tx.value), kind_hex, [], CHAIN_ID_HEX, hex(parity), r, s,
                                     hex(parity))
            txs.append(entry)
            hashes.append(tx_hash)
            cumulative_gas += tx.gas_used
            size += len(tx.input) // 2 + 110
            tx_logs, tx_bloom = [], 0
            for address, topics, data in tx.logs:
                tx_logs.append(Log(address, topics, data, number_hex, tx_hash, index_hex, block_hash, hex(log_index)))
                log_index += 1
                tx_bloom |= mask(address)
                for topic in topics:
                    tx_bloom |= mask(topic)
            logs += tx_logs
            block_bloom |= tx_bloom
            receipts.append(Receipt(block_hash, number_hex, tx.contract, hex(cumulative_gas), hex(price), sender,
                                    hex(tx.gas_used), tx_logs, bloom_hex(tx_bloom), hex(tx.status), tx.to, tx_hash,
                                    index_hex, kind_hex))
            if traced:
                tx.frame["gas"] = hex(gas_limit)  # the top frame: the transaction's own gas
                traces.append({"txHash": tx_hash, "result": tx.frame})
                make.tally["internal_transactions"] += _frames(tx.frame)
        make.tally["transactions"] += count
        make.tally["logs"] += log_index
        header = self._header(number, make, base_fee, cumulative_gas, size, count, block_bloom)
        encode = self._encode
        header["transactions"] = hashes
        header_json = encode(header)
        header["transactions"] = txs
        return Rendered(number, header_json, encode(header), encode(receipts), encode(logs), hashes,
                        make.tally, encode(traces) if traced else None)

    def _header(self, number: int, make: BlockMaker, base_fee: int, gas_used: int, size: int, count: int,
                bloom: int) -> dict:
        """The header's fields, in the order coreth writes them (sorted), `transactions` left to fill in."""
        spec = self.spec
        ms = spec.timestamp_ms(number)
        fields = {"baseFeePerGas": hex(base_fee), "blobGasUsed": "0x0", "blockExtraData": "0x",
                  "blockGasCost": "0x0", "difficulty": "0x1", "excessBlobGas": "0x0", "extDataGasUsed": "0x0",
                  "extDataHash": EMPTY_ROOT,
                  "extraData": "0x%0160x" % make.rng.getrandbits(640),
                  "gasLimit": hex(max(40_000_000, gas_used)), "gasUsed": hex(gas_used), "hash": self.block_hash(number),
                  "logsBloom": bloom_hex(bloom), "minDelayExcess": "0x3d0900", "minPriceExponent": "0x5a3ef",
                  "miner": COINBASE, "mixHash": ZERO_HASH, "nonce": "0x0000000000000000",
                  "number": hex(number), "parentBeaconBlockRoot": ZERO_HASH,
                  "parentHash": self.block_hash(number - 1) if number else ZERO_HASH,
                  "receiptsRoot": self._root(number, b":receipts:") if count else EMPTY_ROOT,
                  "sha3Uncles": EMPTY_UNCLES, "size": hex(size)}
        if spec.era == "helicon":
            settled = max(0, number - 1 - make.below(3))
            fields.update({"settledExcess": hex(make.below(1 << 24)), "settledGasNumerator": hex(make.below(1 << 40)),
                           "settledGasUnix": hex(spec.timestamp_ms(settled) // 1000), "settledHeight": hex(settled)})
        fields.update({"stateRoot": self._root(number, b":state:"), "targetExcess": hex(make.below(1 << 24)),
                       "targetExponent": "0x1000000", "timestamp": hex(ms // 1000), "timestampMilliseconds": hex(ms),
                       "totalDifficulty": hex(number + 1), "transactions": None,
                       "transactionsRoot": self._root(number, b":transactions:") if count else EMPTY_ROOT,
                       "uncles": []})
        return fields

    def day_tally(self, blocks: range) -> Counter:
        """Rows per dataset over the blocks (made here, as the node makes them)."""
        total: Counter = Counter()
        for number in blocks:
            total.update(self.render(number).tally)
        return total


def _frames(frame: dict) -> int:
    return 1 + sum(_frames(child) for child in frame.get("calls", ()))
