"""A deterministic devchain: deploys token and forwarder contracts on anvil and fills a few UTC days
with blocks on chosen timestamps. Same seed and spec → same chain, same block hashes.

Each day holds native transfers (some above 2^64 wei), ERC-20 transfers (direct and contract-driven
transferFrom), ERC-721 mint/transfer/burn, ERC-1155 single and batch mints and transfers, value fanned
out and relayed between contracts (internal transactions), CREATE/CREATE2 from a contract, and a few
forced reverts; swaps on a Uniswap-V2-style pair (Transfer, Transfer, Sync, Swap), a Liquidity Book pair
and a Uniswap-v3-style pool (amounts above 2^128, negative int256), WAVAX deposits and withdrawals (WETH9's
code at mainnet WAVAX's address), and transfers of tokens whose metadata is awkward (bytes32 name and
symbol; no decimals(), a name that is not UTF-8, a reverting totalSupply()). A last empty block on the
following day makes the last day complete. The dense profile (`swaps_per_block`) adds that many V2 swaps
to every block and keeps the accounts funded, for mainnet-like density (≥ 100k transactions a day).

    python -m avax_assets_dev.devchain.generator --rpc-url http://127.0.0.1:8545 [--days 3 --blocks-per-day 40]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eth_abi import encode
from eth_hash.auto import keccak

from avax_assets.chain.rpc import Call, JsonRpcClient
from avax_assets.chain.settings import RpcSettings

ARTIFACTS = json.loads((Path(__file__).parent / "contracts" / "artifacts.json").read_text())["contracts"]
GWEI = 10**9
AVAX = 10**18
GAS = {"transfer": 21_000, "call": 300_000, "deploy_token": 3_000_000, "deploy": 400_000, "swap": 200_000}
HUGE_TOKEN_ID = 2**200 + 7  # token ids and amounts above 2^64 exercise exact uint256 handling
MULTI_IDS = (1, 2, 3, HUGE_TOKEN_ID)
WAVAX = "0xb31f66aa3c1e785363f0875a1b74e27b85fd66c7"  # mainnet WAVAX: the devchain's WETH9 lives here too
# alias → (artifact, constructor types, constructor arguments)
TOKENS = {
    "DevToken": ("DevToken", ["string", "string", "uint8"], ["Dev Token", "DEV", 18]),
    "DevTokenB": ("DevToken", ["string", "string", "uint8"], ["Dev Dollar", "DUSD", 6]),
    "DevTokenC": ("DevToken", ["string", "string", "uint8"], ["Dev Wide", "WIDE", 18]),
    "DevTokenD": ("DevToken", ["string", "string", "uint8"], ["Dev Wider", "WIDER", 18]),
    "DevBytes32Token": ("DevBytes32Token", [], []),
    "DevOddToken": ("DevOddToken", [], []),
}
DUSD_PER_DEV = 10**12  # DEV base units per DUSD base unit (18 vs 6 decimals): the pools price them 1:1 in units
GENERATOR_VERSION = 3  # part of the recorded spec: a changed generator regenerates the chain


def selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


def calldata(signature: str, types: list[str], values: list) -> str:
    return "0x" + (selector(signature) + encode(types, values)).hex()


@dataclass(frozen=True)
class DevchainSpec:
    seed: int = 7
    start: dt.date = dt.date(2024, 6, 1)
    days: int = 3
    blocks_per_day: int = 40
    max_txs_per_block: int = 6
    reverts_per_day: int = 2
    swaps_per_block: int = 0  # dense profile: this many pool swaps in every block, besides the random mix
    generator: int = GENERATOR_VERSION

    @property
    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]


@dataclass
class DevchainSummary:
    spec: dict
    contracts: dict[str, str]
    latest_block: int
    latest_block_hash: str
    transactions: int
    reverted: int
    blocks_by_day: dict[str, list[int]] = field(default_factory=dict)
    icm: dict = field(default_factory=dict)  # a linked devchain's messages (devchain/icm.py)


class ChainNotFresh(RuntimeError):
    """The node already holds blocks: the generator needs a fresh anvil."""


class _Chain:
    """Sends transactions with explicit nonces and mines blocks at chosen timestamps."""

    def __init__(self, rpc: JsonRpcClient, rng: random.Random) -> None:
        self.rpc = rpc
        self.rng = rng
        self.accounts = [a.lower() for a in rpc.call("eth_accounts", [])]
        self.nonces: dict[str, int] = defaultdict(int)
        self.expected_status: dict[str, int] = {}
        self.pending: list[tuple[dict, int]] = []

    def send(self, sender: str, to: str | None, data: str = "0x", value: int = 0, gas: int = GAS["call"],
             expect_success: bool = True) -> None:
        """Queue a transaction (sent in batches by `flush`, at the latest before the next block is mined)."""
        tx = {"from": sender, "data": data, "value": hex(value), "gas": hex(gas), "nonce": hex(self.nonces[sender])}
        if to:
            tx["to"] = to
        if self.rng.random() < 0.2:
            tx["gasPrice"] = hex(50 * GWEI)
        else:
            tx["maxFeePerGas"] = hex(100 * GWEI)
            tx["maxPriorityFeePerGas"] = hex(self.rng.randint(1, 3) * GWEI)
        self.nonces[sender] += 1
        self.pending.append((tx, 1 if expect_success else 0))

    def flush(self) -> list[str]:
        """Send the queued transactions, in order; their hashes."""
        sent = self.rpc.batch([Call("eth_sendTransaction", [tx]) for tx, _ in self.pending])
        hashes = [h.lower() for h in sent]
        self.expected_status.update(zip(hashes, (status for _, status in self.pending), strict=True))
        self.pending = []
        return hashes

    def mine(self, timestamp: int) -> None:
        self.flush()
        self.rpc.call("anvil_setNextBlockBaseFeePerGas", [hex(self.rng.randint(25, 35) * GWEI)], allow_null=True)
        self.rpc.call("evm_mine", [timestamp], allow_null=True)

    def fund(self, accounts: list[str], balance: int) -> None:
        """Top accounts up (a dev-node call, no transaction), so a dense chain never runs dry."""
        self.rpc.batch([Call("anvil_setBalance", [a, hex(balance)]) for a in accounts], allow_null=True)

    def receipt(self, tx_hash: str) -> dict:
        return self.rpc.call("eth_getTransactionReceipt", [tx_hash])


class _Activity:
    """Chooses valid actions against a model of token state, so only forced reverts fail."""

    def __init__(self, chain: _Chain, contracts: dict[str, str]) -> None:
        self.chain, self.c, self.rng = chain, contracts, chain.rng
        self.users = chain.accounts[1:12]
        self.erc20: dict[str, int] = {}  # DevToken balances
        self.dex: _Dex | None = None  # set once the pools are deployed
        self.wavax: dict[str, int] = defaultdict(int)
        self.odd: dict[tuple[str, str], int] = defaultdict(int)  # (token alias, holder) → balance
        self.nft_owner: dict[int, str] = {}
        self.next_nft = 1
        self.multi: dict[tuple[str, int], int] = defaultdict(int)

    def setup(self) -> None:
        admin = self.chain.accounts[0]
        for i, user in enumerate(self.users):
            amount = 10**27 + i * 10**18
            self.chain.send(admin, self.c["DevToken"], calldata("mint(address,uint256)", ["address", "uint256"],
                                                                 [user, amount]))
            self.erc20[user] = amount
            self.chain.send(user, self.c["DevToken"], calldata("approve(address,uint256)", ["address", "uint256"],
                                                                [self.c["ForwarderA"], 2**256 - 1]))
            for alias in ("DevBytes32Token", "DevOddToken"):
                self.chain.send(admin, self.c[alias], calldata("mint(address,uint256)", ["address", "uint256"],
                                                               [user, 10**24]))
                self.odd[(alias, user)] = 10**24

    def random_action(self) -> None:
        actions = [self.native, self.erc20_transfer, self.erc20_pull, self.nft, self.multi_token,
                   self.fan_out, self.relay, self.create, self.wrap, self.odd_transfer, self.swap]
        self.rng.choices(actions, weights=[3, 4, 2, 3, 3, 2, 2, 1, 2, 1, 3])[0]()

    def _two_users(self) -> tuple[str, str]:
        a, b = self.rng.sample(self.users, 2)
        return a, b

    def native(self) -> None:
        a, b = self._two_users()
        value = self.rng.choice([self.rng.randint(1, 10**15), self.rng.randint(19, 120) * AVAX])
        self.chain.send(a, b, value=value, gas=GAS["transfer"])

    def erc20_transfer(self) -> None:
        a, b = self._two_users()
        amount = self.rng.randint(1, self.erc20[a] // 50)
        self.chain.send(a, self.c["DevToken"],
                        calldata("transfer(address,uint256)", ["address", "uint256"], [b, amount]))
        self.erc20[a] -= amount
        self.erc20[b] += amount

    def erc20_pull(self) -> None:
        a, b = self._two_users()
        caller = self.rng.choice(self.users)
        amount = self.rng.randint(1, self.erc20[a] // 50)
        data = calldata("pullTokens(address,address,address,uint256)", ["address", "address", "address", "uint256"],
                        [self.c["DevToken"], a, b, amount])
        self.chain.send(caller, self.c["ForwarderA"], data)
        self.erc20[a] -= amount
        self.erc20[b] += amount

    def nft(self) -> None:
        owned = sorted(self.nft_owner.items())
        roll = self.rng.random()
        if not owned or roll < 0.4:
            token_id = HUGE_TOKEN_ID + self.next_nft if self.next_nft % 3 == 0 else self.next_nft
            self.next_nft += 1
            to = self.rng.choice(self.users)
            self.chain.send(self.chain.accounts[0], self.c["DevCollectible"],
                            calldata("mint(address,uint256)", ["address", "uint256"], [to, token_id]))
            self.nft_owner[token_id] = to
            return
        token_id, owner = self.rng.choice(owned)
        if roll < 0.85:
            to = self.rng.choice([u for u in self.users if u != owner])
            self.chain.send(owner, self.c["DevCollectible"], calldata(
                "transferFrom(address,address,uint256)", ["address", "address", "uint256"], [owner, to, token_id]))
            self.nft_owner[token_id] = to
        else:
            self.chain.send(owner, self.c["DevCollectible"], calldata("burn(uint256)", ["uint256"], [token_id]))
            del self.nft_owner[token_id]

    def multi_token(self) -> None:
        held = sorted((k, v) for k, v in self.multi.items() if v > 0)
        roll = self.rng.random()
        admin, token = self.chain.accounts[0], self.c["DevMultiToken"]
        if not held or roll < 0.3:
            to = self.rng.choice(self.users)
            if self.rng.random() < 0.5:
                token_id, amount = self.rng.choice(MULTI_IDS), self.rng.randint(1, 10**22)
                self.chain.send(admin, token, calldata("mint(address,uint256,uint256)",
                                                       ["address", "uint256", "uint256"], [to, token_id, amount]))
                self.multi[(to, token_id)] += amount
            else:
                ids = sorted(self.rng.sample(MULTI_IDS, 3))
                amounts = [self.rng.randint(1, 10**22) for _ in ids]
                self.chain.send(admin, token, calldata("mintBatch(address,uint256[],uint256[])",
                                                       ["address", "uint256[]", "uint256[]"], [to, ids, amounts]))
                for token_id, amount in zip(ids, amounts, strict=True):
                    self.multi[(to, token_id)] += amount
            return
        (owner, _), _ = self.rng.choice(held)
        to = self.rng.choice([u for u in self.users if u != owner])
        mine = [(token_id, bal) for (o, token_id), bal in held if o == owner]
        if roll < 0.65 or len(mine) == 1:
            token_id, balance = self.rng.choice(mine)
            amount = self.rng.randint(1, balance)
            data = calldata("safeTransferFrom(address,address,uint256,uint256,bytes)",
                            ["address", "address", "uint256", "uint256", "bytes"], [owner, to, token_id, amount, b""])
            moves = [(token_id, amount)]
        else:
            moves = [(token_id, self.rng.randint(1, balance)) for token_id, balance in mine]
            data = calldata("safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)",
                            ["address", "address", "uint256[]", "uint256[]", "bytes"],
                            [owner, to, [m[0] for m in moves], [m[1] for m in moves], b""])
        self.chain.send(owner, token, data)
        for token_id, amount in moves:
            self.multi[(owner, token_id)] -= amount
            self.multi[(to, token_id)] += amount

    def fan_out(self) -> None:
        sender = self.rng.choice(self.users)
        recipients = [*self.rng.sample(self.users, 2), self.c["ForwarderB"]]
        amounts = [self.rng.randint(1, 30) * AVAX for _ in recipients]
        data = calldata("fanOut(address[],uint256[])", ["address[]", "uint256[]"], [recipients, amounts])
        self.chain.send(sender, self.c["ForwarderA"], data, value=sum(amounts))

    def relay(self) -> None:
        sender, recipient = self._two_users()
        data = calldata("relay(address,address)", ["address", "address"], [self.c["ForwarderB"], recipient])
        self.chain.send(sender, self.c["ForwarderA"], data, value=self.rng.randint(1, 25) * AVAX)

    def create(self, salted: bool | None = None) -> None:
        sender = self.rng.choice(self.users)
        value = self.rng.randint(0, 5) * AVAX
        if not (self.rng.random() < 0.5 if salted is None else salted):
            data = calldata("deploy(uint256)", ["uint256"], [value])
        else:
            salt = self.rng.getrandbits(256).to_bytes(32, "big")
            data = calldata("deploy2(bytes32,uint256)", ["bytes32", "uint256"], [salt, value])
        self.chain.send(sender, self.c["ForwarderA"], data, value=value, gas=GAS["deploy"])

    def every_day(self, block_in_day: int) -> None:
        """What each day holds whatever the random mix draws, in its first two blocks (so every day has
        every dataset's rows: CREATE and CREATE2, each pool's swaps, a wrap and an unwrap, both awkward
        tokens moving)."""
        if block_in_day == 0:
            self.create(salted=False)
            self.wrap(unwrap=False)
            self.dex.lb_swap()
        elif block_in_day == 1:
            self.create(salted=True)
            self.wrap(unwrap=True)
            self.dex.v2_swap()
            self.dex.v3_swap()
            self.odd_transfer("DevBytes32Token")
            self.odd_transfer("DevOddToken")

    def wrap(self, unwrap: bool | None = None) -> None:
        """WAVAX: deposit native AVAX, or withdraw part of what the user holds (an internal transaction)."""
        holders = [u for u in self.users if self.wavax[u]]
        if unwrap or (unwrap is None and holders and self.rng.random() < 0.4):
            user = self.rng.choice(holders)
            amount = self.rng.randint(1, self.wavax[user])
            self.chain.send(user, WAVAX, calldata("withdraw(uint256)", ["uint256"], [amount]))
            self.wavax[user] -= amount
            return
        user = self.rng.choice(self.users)
        amount = self.rng.randint(1, 50) * AVAX + self.rng.randint(0, 10**18)
        self.chain.send(user, WAVAX, calldata("deposit()", [], []), value=amount)
        self.wavax[user] += amount

    def odd_transfer(self, alias: str | None = None) -> None:
        alias = alias or self.rng.choice(("DevBytes32Token", "DevOddToken"))
        a, b = self._two_users()
        amount = self.rng.randint(1, self.odd[(alias, a)] // 10)
        self.chain.send(a, self.c[alias], calldata("transfer(address,uint256)", ["address", "uint256"], [b, amount]))
        self.odd[(alias, a)] -= amount
        self.odd[(alias, b)] += amount

    def swap(self) -> None:
        self.rng.choice((self.dex.v2_swap, self.dex.lb_swap, self.dex.v3_swap))()

    def forced_revert(self) -> None:
        sender, recipient = self._two_users()
        if self.rng.random() < 0.5:
            data, value = calldata("fail()", [], []), 0
        else:
            data = calldata("relayThenRevert(address,address)", ["address", "address"],
                            [self.c["ForwarderB"], recipient])
            value = 2 * AVAX
        self.chain.send(sender, self.c["ForwarderA"], data, value=value, expect_success=False)


FUND_EVERY_BLOCKS = 100
USER_FUNDS = 10_000 * AVAX


class _Dex:
    """Swaps on the three pools against a model of balances and reserves, so every swap succeeds and the
    ERC-20 model of the random mix stays exact: the V2 pair and the LB pair trade DevToken/DevTokenB, the
    v3 pool DevTokenC/DevTokenD in amounts above 2^128."""

    def __init__(self, chain: _Chain, activity: _Activity) -> None:
        self.chain, self.activity, self.rng = chain, activity, chain.rng
        c = activity.c
        self.pair, self.lb, self.v3 = c["DevPair"], c["DevLBPair"], c["DevV3Pool"]
        admin = chain.accounts[0]
        mint = "mint(address,uint256)"
        self.reserves = [10**30, 10**30 // DUSD_PER_DEV]
        for token, reserve in zip((c["DevToken"], c["DevTokenB"]), self.reserves, strict=True):
            chain.send(admin, token, calldata(mint, ["address", "uint256"], [self.pair, reserve]))
            chain.send(admin, token, calldata(mint, ["address", "uint256"], [self.lb, reserve]))
        for token in (c["DevTokenC"], c["DevTokenD"]):
            chain.send(admin, token, calldata(mint, ["address", "uint256"], [self.v3, 2**250]))
        chain.send(admin, self.pair, calldata("sync()", [], []))
        self.balances: dict[str, dict[str, int]] = {c["DevToken"]: activity.erc20}
        for alias, amount in (("DevTokenB", 10**27 // DUSD_PER_DEV), ("DevTokenC", 2**200), ("DevTokenD", 2**200)):
            self.balances[c[alias]] = {}
            for user in activity.users:
                chain.send(admin, c[alias], calldata(mint, ["address", "uint256"], [user, amount]))
                self.balances[c[alias]][user] = amount
        approvals = ((c["DevToken"], self.pair), (c["DevTokenB"], self.pair), (c["DevToken"], self.lb),
                     (c["DevTokenB"], self.lb), (c["DevTokenC"], self.v3), (c["DevTokenD"], self.v3))
        for user in activity.users:
            for token, spender in approvals:
                chain.send(user, token, calldata("approve(address,uint256)", ["address", "uint256"],
                                                 [spender, 2**256 - 1]))

    def _trade(self, token_in: str, token_out: str, divisor: int) -> tuple[str, str, int]:
        sender, to = self.rng.choice(self.activity.users), self.rng.choice(self.activity.users)
        amount_in = self.rng.randint(1, max(1, self.balances[token_in][sender] // divisor))
        self.balances[token_in][sender] -= amount_in
        return sender, to, amount_in

    def v2_swap(self) -> None:
        c = self.activity.c
        zero_for_one = self.rng.random() < 0.5
        token_in, token_out = (c["DevToken"], c["DevTokenB"]) if zero_for_one else (c["DevTokenB"], c["DevToken"])
        sender, to, amount_in = self._trade(token_in, token_out, 10_000)
        r_in, r_out = (self.reserves[0], self.reserves[1]) if zero_for_one else (self.reserves[1], self.reserves[0])
        amount_out = amount_in * 997 * r_out // (r_in * 1000 + amount_in * 997)
        self.chain.send(sender, self.pair, calldata("swap(uint256,bool,address)", ["uint256", "bool", "address"],
                                                    [amount_in, zero_for_one, to]), gas=GAS["swap"])
        self.balances[token_out][to] += amount_out
        i, o = (0, 1) if zero_for_one else (1, 0)
        self.reserves[i] += amount_in
        self.reserves[o] -= amount_out

    def lb_swap(self) -> None:
        c = self.activity.c
        swap_for_y = self.rng.random() < 0.5
        token_in, token_out = (c["DevToken"], c["DevTokenB"]) if swap_for_y else (c["DevTokenB"], c["DevToken"])
        sender, to, amount_in = self._trade(token_in, token_out, 10_000)
        self.chain.send(sender, self.lb, calldata("swap(bool,address,uint128)", ["bool", "address", "uint128"],
                                                  [swap_for_y, to, amount_in]), gas=GAS["swap"])
        after_fee = amount_in - amount_in // 1000
        self.balances[token_out][to] += after_fee // DUSD_PER_DEV if swap_for_y else after_fee * DUSD_PER_DEV

    def v3_swap(self) -> None:
        c = self.activity.c
        zero_for_one = self.rng.random() < 0.5
        token_in, token_out = (c["DevTokenC"], c["DevTokenD"]) if zero_for_one else (c["DevTokenD"], c["DevTokenC"])
        sender, to, amount_in = self._trade(token_in, token_out, 50)
        self.chain.send(sender, self.v3, calldata("swap(address,bool,uint256)", ["address", "bool", "uint256"],
                                                  [to, zero_for_one, amount_in]), gas=GAS["swap"])
        self.balances[token_out][to] += amount_in - amount_in // 2000

    def swaps(self, count: int) -> None:
        for _ in range(count):
            self.v2_swap()


def _day_start(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp())


def _creation_code(artifact: str, types: list[str], args: list) -> str:
    return ARTIFACTS[artifact]["bytecode"] + (encode(types, args).hex() if types else "")


def _deploy(chain: _Chain) -> dict[str, str]:
    """Deploy the contracts; their creation transactions' hashes by alias."""
    admin = chain.accounts[0]
    plain = {"DevCollectible": "DevCollectible", "DevMultiToken": "DevMultiToken", "ForwarderA": "Forwarder",
             "ForwarderB": "Forwarder", "WAVAXCode": "DevWAVAX"}
    for artifact in plain.values():
        chain.send(admin, None, ARTIFACTS[artifact]["bytecode"], gas=GAS["deploy_token"])
    for artifact, types, args in TOKENS.values():
        chain.send(admin, None, _creation_code(artifact, types, args), gas=GAS["deploy_token"])
    return dict(zip([*plain, *TOKENS], chain.flush(), strict=True))


def _deploy_pools(chain: _Chain, contracts: dict[str, str]) -> dict[str, str]:
    pools = {"DevPair": ("DevToken", "DevTokenB"), "DevLBPair": ("DevToken", "DevTokenB"),
             "DevV3Pool": ("DevTokenC", "DevTokenD")}
    price = {"DevLBPair": (["uint256", "uint256"], [1, DUSD_PER_DEV])}  # DUSD base units per DEV base unit
    for artifact, (a, b) in pools.items():
        types, args = price.get(artifact, ([], []))
        code = _creation_code(artifact, ["address", "address", *types], [contracts[a], contracts[b], *args])
        chain.send(chain.accounts[0], None, code, gas=GAS["deploy_token"])
    return dict(zip(pools, chain.flush(), strict=True))


def _place_wavax(chain: _Chain, deployed_at: str) -> None:
    """WETH9's runtime code at mainnet WAVAX's address (its name and symbol are in the code, not storage)."""
    code = chain.rpc.call("eth_getCode", [deployed_at, "latest"])
    chain.rpc.call("anvil_setCode", [WAVAX, code], allow_null=True)


def generate(rpc_url: str, spec: DevchainSpec = DevchainSpec(),
             progress: Callable[[int], None] | None = None) -> DevchainSummary:
    """The devchain of `spec` on a fresh anvil; `progress` hears how many of the days' blocks are mined."""
    with JsonRpcClient(RpcSettings(url=rpc_url, batch_size=100, concurrency=1)) as rpc:
        generation = Generation(rpc, spec)
        for mined in generation.blocks():
            if progress:
                progress(mined)
        return generation.finish()


BeforeMine = Callable[[int, int], None]  # (day index, block index in the day): queue more of the block's transactions


class Generation:
    """One chain's devchain being generated: contracts deployed on a fresh anvil, then the days' blocks one at a
    time (so that two chains can advance in step), then `finish`. Same seed and spec, same blocks."""

    def __init__(self, rpc: JsonRpcClient, spec: DevchainSpec) -> None:
        if int(rpc.call("eth_blockNumber", []), 16) != 0:
            raise ChainNotFresh("the devchain generator needs a fresh anvil (block 0); restart it")
        self.spec, self.rpc, self.rng = spec, rpc, random.Random(spec.seed)
        self.chain = _Chain(rpc, self.rng)
        self.activity = _deployed(self.chain, _day_start(spec.start))

    def blocks(self, before_mine: BeforeMine | None = None) -> Iterator[int]:
        """Mine the days' blocks; yields how many are mined after each. `before_mine` adds to each block."""
        spec, rng, chain, activity = self.spec, self.rng, self.chain, self.activity
        spacing = (86_400 - 120) // spec.blocks_per_day
        for day_index, day in enumerate(spec.dates):
            reverts_at = set(rng.sample(range(spec.blocks_per_day), spec.reverts_per_day))
            for i in range(spec.blocks_per_day):
                activity.every_day(i)
                for _ in range(rng.randint(0, spec.max_txs_per_block)):
                    activity.random_action()
                if i in reverts_at:
                    activity.forced_revert()
                if spec.swaps_per_block:
                    activity.dex.swaps(spec.swaps_per_block)
                    if i % FUND_EVERY_BLOCKS == 0:
                        chain.fund(activity.users, USER_FUNDS)
                if before_mine:
                    before_mine(day_index, i)
                chain.mine(_day_start(day) + 60 + i * spacing + rng.randint(0, spacing // 2))
                yield day_index * spec.blocks_per_day + i + 1

    def finish(self) -> DevchainSummary:
        """A last empty block on the following day (so the last day is complete), and the chain verified."""
        self.chain.mine(_day_start(self.spec.dates[-1] + dt.timedelta(days=1)) + 30)
        return _verify(self.rpc, self.chain, self.spec, self.activity.c)


def _deployed(chain: _Chain, first_day: int) -> _Activity:
    """Every contract deployed and the users funded, in three blocks from `first_day` (Unix seconds)."""
    deployed = _deploy(chain)
    chain.mine(first_day + 5)
    contracts = {alias: chain.receipt(h)["contractAddress"].lower() for alias, h in deployed.items()}
    _place_wavax(chain, contracts.pop("WAVAXCode"))
    contracts["WAVAX"] = WAVAX
    deployed = _deploy_pools(chain, contracts)
    chain.mine(first_day + 7)
    contracts.update({alias: chain.receipt(h)["contractAddress"].lower() for alias, h in deployed.items()})
    activity = _Activity(chain, contracts)
    activity.setup()
    activity.dex = _Dex(chain, activity)
    chain.mine(first_day + 10)
    return activity


class LiveMiner:
    """Blocks on demand, for the live path's tests and benchmark: on a fresh anvil, the devchain's
    contracts, then each `block()` a block of the same realistic mix (transfers of every standard, swaps,
    wraps, creations) mined now, or at `timestamp`."""

    def __init__(self, rpc: JsonRpcClient, seed: int = 7, start: int | None = None) -> None:
        self.chain = _Chain(rpc, random.Random(seed))
        counts = rpc.batch([Call("eth_getTransactionCount", [a, "latest"]) for a in self.chain.accounts])
        # any anvil, not only a fresh one
        self.chain.nonces.update({a: int(n, 16) for a, n in zip(self.chain.accounts, counts, strict=True)})
        latest = rpc.call("eth_getBlockByNumber", ["latest", False])
        self.timestamp = max(start or int(time.time()), int(latest["timestamp"], 16) + 1)
        self.activity = _deployed(self.chain, self.timestamp)
        self.timestamp += 10

    def block(self, transactions: int = 8, swaps: int = 2, timestamp: int | None = None) -> int:
        for _ in range(transactions):
            self.activity.random_action()
        self.activity.dex.swaps(swaps)
        self.timestamp = max(self.timestamp + 1, timestamp or int(time.time()))
        self.chain.mine(self.timestamp)
        return int(self.chain.rpc.call("eth_blockNumber", []), 16)


def _verify(rpc: JsonRpcClient, chain: _Chain, spec: DevchainSpec, contracts: dict[str, str]) -> DevchainSummary:
    """Every transaction was mined with the status the model expected."""
    latest = int(rpc.call("eth_blockNumber", []), 16)
    blocks = rpc.batch([Call("eth_getBlockByNumber", [hex(n), False]) for n in range(latest + 1)])
    receipts = rpc.batch([Call("eth_getBlockReceipts", [hex(n)]) for n in range(latest + 1)])
    status = {r["transactionHash"].lower(): int(r["status"], 16) for block in receipts for r in block}
    if status != chain.expected_status:
        unexpected = [h for h in chain.expected_status if status.get(h) != chain.expected_status[h]]
        raise RuntimeError(f"devchain: {len(unexpected)} transactions not mined as expected, e.g. {unexpected[:3]}")
    by_day: dict[str, list[int]] = defaultdict(list)
    for block in blocks:
        day = dt.datetime.fromtimestamp(int(block["timestamp"], 16), dt.timezone.utc).date().isoformat()
        by_day[day].append(int(block["number"], 16))
    spec_dict = {**asdict(spec), "start": spec.start.isoformat()}
    return DevchainSummary(spec=spec_dict, contracts=contracts, latest_block=latest,
                           latest_block_hash=blocks[-1]["hash"], transactions=len(status),
                           reverted=sum(1 for s in status.values() if s == 0),
                           blocks_by_day={d: [min(n), max(n)] for d, n in sorted(by_day.items())})


def ensure_devchain(rpc_url: str, spec: DevchainSpec, record: Path,
                   progress: Callable[[int], None] | None = None) -> DevchainSummary:
    """Generate the devchain unless this anvil already holds exactly the recorded one."""
    if record.exists():
        summary = DevchainSummary(**json.loads(record.read_text()))
        with JsonRpcClient(RpcSettings(url=rpc_url)) as rpc:
            latest = int(rpc.call("eth_blockNumber", []), 16)
            head = rpc.call("eth_getBlockByNumber", [hex(latest), False])
        spec_dict = {**asdict(spec), "start": spec.start.isoformat()}
        if summary.spec == spec_dict and head["hash"] == summary.latest_block_hash:
            return summary
    summary = generate(rpc_url, spec, progress)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(asdict(summary), indent=1))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rpc-url", default="http://127.0.0.1:8545")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--blocks-per-day", type=int, default=40)
    args = parser.parse_args()
    spec = DevchainSpec(seed=args.seed, days=args.days, blocks_per_day=args.blocks_per_day)
    print(json.dumps(asdict(generate(args.rpc_url, spec)), indent=1))


if __name__ == "__main__":
    main()
