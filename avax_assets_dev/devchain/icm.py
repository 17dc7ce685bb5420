"""Cross-chain ICM (Teleporter) messages between two local chains: the devchain's C-Chain and a local L1, each an
anvil with its own chain id.

On each chain the dev messenger (contracts/DevTeleporter.sol: TeleporterMessenger's real events and message ids,
NO Warp signature verification) is placed at ICM's universal address 0x253b…5fcf, as an L1's genesis places the
real one, and given the chain's blockchain id. The two chains are generated in step, block by block: a few
messages each way per day (fees in the chain's DevToken, some added to later, some payloads that fail or are
empty), and a relayer delivering on each chain what the other sent before the block being built, so every
message's delivery comes after its send; messages sent in the last block of the last day stay in flight.

    uv run python -m avax_assets_dev.devchain.icm relay --rpc-url URL_A --rpc-url URL_B [--seconds 60]

relays between two such chains as they run (it delivers every message the other chain has not received yet).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from eth_abi import decode, encode
from eth_hash.auto import keccak

from avax_assets.chain.rpc import Call, JsonRpcClient
from avax_assets.chain.settings import RpcSettings
from avax_assets.events.datasets import TELEPORTER_MESSENGER, TELEPORTER_SEND
from avax_assets.primary import ids
from avax_assets_dev.devchain.generator import (ARTIFACTS, GAS, DevchainSpec, DevchainSummary, Generation, _Chain,
                                                _day_start, calldata)

MESSENGER = TELEPORTER_MESSENGER
MESSAGE = "(uint256,address,bytes32,address,uint256,address[],(uint256,address)[],bytes)"
FEE = "(address,uint256)"
INPUT = "(bytes32,address,(address,uint256),uint256,address[],bytes)"
RECEIVE = f"receiveCrossChainMessage(bytes32,{MESSAGE},address)"
ZERO_ADDRESS = "0x" + "0" * 40
REQUIRED_GAS = 100_000  # what each message asks the relayer to give its execution
GAS_ICM = {"send": 500_000, "deliver": 900_000}
RELAYER, REWARD_REDEEMER = 12, 13  # anvil accounts (the devchain's users are 1-11), the same on both chains


@dataclass(frozen=True)
class LocalChain:
    """A local chain's identity: its anvil's chain id, its native token and the blockchain id its messenger has."""

    name: str
    chain_id: int
    native_symbol: str
    blockchain_id: bytes

    @property
    def blockchain_id_hex(self) -> str:
        return "0x" + self.blockchain_id.hex()

    @property
    def blockchain_id_cb58(self) -> str:
        return ids.cb58(self.blockchain_id)


C_CHAIN = LocalChain("c_chain", 43114, "AVAX", ids.uncb58(ids.C_CHAIN))  # mainnet's C-Chain, as the devchain is
# an L1 of its own: chain id 43514 is in no ethereum-lists/chains entry; its blockchain id is made up (SHA-256)
DEV_L1 = LocalChain("devl1", 43514, "DL1", hashlib.sha256(b"avax-assets local L1 43514").digest())


@dataclass(frozen=True)
class IcmSpec:
    """The messages between two devchains: how many each way per day (at random blocks that leave time to deliver
    them the same day) and the seed of their choices."""

    messages_per_day: int = 3
    seed: int = 7


@dataclass(frozen=True)
class LinkedChain:
    rpc_url: str
    spec: DevchainSpec
    identity: LocalChain


@dataclass(frozen=True)
class SentMessage:
    message_id: str
    block_number: int
    message: tuple  # the TeleporterMessage as eth_abi decodes it


def message_id(source: bytes, destination: bytes, nonce: int) -> str:
    """TeleporterMessenger.calculateMessageID."""
    return "0x" + keccak(encode(["address", "bytes32", "bytes32", "uint256"],
                                [MESSENGER, source, destination, nonce])).hex()


def messenger_call(rpc: JsonRpcClient, signature: str, types: list[str] = (), values: list = ()) -> bytes:
    return bytes.fromhex(rpc.call("eth_call", [{"to": MESSENGER, "data": calldata(signature, list(types),
                                                                                  list(values))}, "latest"])[2:])


class Relayer:
    """Delivers what one chain's messenger sent to another chain: reads its SendCrossChainMessage logs for that
    chain (eth_getLogs by topic0 and destination blockchain id) and gives each message to the other chain's
    messenger (receiveCrossChainMessage), naming `reward_address` for its fee. No signatures: see DevTeleporter."""

    def __init__(self, source: JsonRpcClient, destination_blockchain_id: bytes, reward_address: str,
                 first_block: int = 0) -> None:
        self.source, self.destination_blockchain_id = source, destination_blockchain_id
        self.reward_address, self.next_block = reward_address, first_block
        self.source_blockchain_id = messenger_call(source, "blockchainID()")

    def sent(self, before_timestamp: int | None = None) -> list[SentMessage]:
        """The messages sent since the last call, oldest first; with `before_timestamp`, only those in blocks
        older than it (the rest wait for a later call)."""
        latest = int(self.source.call("eth_blockNumber", []), 16)
        if latest < self.next_block:
            return []
        logs = self.source.call("eth_getLogs", [{
            "address": MESSENGER, "fromBlock": hex(self.next_block), "toBlock": hex(latest),
            "topics": [TELEPORTER_SEND.topic0, None, "0x" + self.destination_blockchain_id.hex()]}])
        through = latest
        if before_timestamp is not None:
            blocks = sorted({int(log["blockNumber"], 16) for log in logs})
            headers = self.source.batch([Call("eth_getBlockByNumber", [hex(n), False]) for n in blocks])
            late = [n for n, h in zip(blocks, headers, strict=True) if int(h["timestamp"], 16) >= before_timestamp]
            through = min(late) - 1 if late else latest
        self.next_block = through + 1
        return [SentMessage(log["topics"][1], int(log["blockNumber"], 16),
                            decode([MESSAGE, FEE], bytes.fromhex(log["data"][2:]))[0])
                for log in logs if int(log["blockNumber"], 16) <= through]

    def delivery(self, sent: SentMessage) -> str:
        """The calldata that delivers `sent` on the destination chain."""
        return calldata(RECEIVE, ["bytes32", MESSAGE, "address"],
                        [self.source_blockchain_id, sent.message, self.reward_address])


def place_messenger(chain: _Chain, blockchain_id: bytes) -> None:
    """The dev messenger's code at ICM's universal address (no creation transaction: as in an L1's genesis), and
    its blockchain id given in the next block."""
    chain.rpc.call("anvil_setCode", [MESSENGER, ARTIFACTS["DevTeleporterMessenger"]["runtime"]], allow_null=True)
    chain.send(chain.accounts[0], MESSENGER, calldata("initializeBlockchainID(bytes32)", ["bytes32"], [blockchain_id]))


class _Link:
    """One chain's side of the messages: its messenger and receiving app, what it sends the other chain, and
    its relayer delivering what the other chain sent."""

    def __init__(self, generation: Generation, identity: LocalChain, spec: IcmSpec) -> None:
        if generation.spec.blocks_per_day < spec.messages_per_day + 3:
            raise ValueError(f"{spec.messages_per_day} messages a day need at least {spec.messages_per_day + 3} "
                             f"blocks a day, not {generation.spec.blocks_per_day}")
        self.generation, self.chain, self.identity, self.spec = generation, generation.chain, identity, spec
        self.rng = random.Random(f"icm {spec.seed} {identity.chain_id}")
        self.token = generation.activity.c["DevToken"]
        self.relayer, self.reward_redeemer = self.chain.accounts[RELAYER], self.chain.accounts[REWARD_REDEEMER]
        self.counts: Counter[str] = Counter()
        self.sends_today: set[int] = set()
        self.partner: _Link | None = None
        self.relay: Relayer | None = None

    def setup(self, timestamp: int) -> None:
        """Messenger, receiving app and the users' approvals of the fee token, in one block at `timestamp`."""
        admin, activity = self.chain.accounts[0], self.generation.activity
        place_messenger(self.chain, self.identity.blockchain_id)
        self.chain.send(admin, None, ARTIFACTS["DevIcmReceiver"]["bytecode"], gas=GAS["deploy_token"])
        (*_, receiver_deployment) = self.chain.flush()
        for user in activity.users:
            self.chain.send(user, self.token, calldata("approve(address,uint256)", ["address", "uint256"],
                                                       [MESSENGER, 2**256 - 1]))
        self.chain.mine(timestamp)
        activity.c.update({"TeleporterMessenger": MESSENGER,
                           "DevIcmReceiver": self.chain.receipt(receiver_deployment)["contractAddress"].lower()})

    def connect(self, partner: _Link) -> None:
        self.partner = partner
        self.relay = Relayer(partner.chain.rpc, self.identity.blockchain_id, self.reward_redeemer)

    def before_mine(self, day_index: int, block: int) -> None:
        blocks_per_day = self.generation.spec.blocks_per_day
        if block == 0:
            self.sends_today = set(self.rng.sample(range(blocks_per_day - 3), self.spec.messages_per_day))
            if day_index == len(self.generation.spec.dates) - 1:
                self.sends_today.add(blocks_per_day - 1)  # left in flight: its delivery would be the next day's
        self._deliver()
        if block in self.sends_today:
            self._send()
        if block == blocks_per_day - 1:
            self._redeem()

    def _deliver(self) -> None:
        """What the partner sent in blocks older than this chain's newest: this block comes later still."""
        newest = int(self.chain.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        for sent in self.relay.sent(before_timestamp=newest):
            self.chain.send(self.relayer, MESSENGER, self.relay.delivery(sent), gas=GAS_ICM["deliver"])
            self.counts["delivered"] += 1

    def _send(self) -> None:
        """The n-th message: every fifth fails to execute on delivery (its payload makes the receiving app
        revert), every fifth has no payload, every fourth no fee, every third with a fee has more added, every
        other one names the relayer as the only one allowed: each kind within the first five."""
        activity, rng, partner = self.generation.activity, self.rng, self.partner
        user = rng.choice(activity.users)
        self.counts["sent"] += 1
        n = self.counts["sent"]
        payload = {2: b"revert", 3: b""}.get(n % 5, f"{self.identity.name} to {partner.identity.name}: "
                                                    f"message {n}".encode())
        fee = 0 if n % 4 == 0 else rng.randint(1, 10**18)
        allowed = [self.relayer] if n % 2 else []
        message = (partner.identity.blockchain_id, partner.generation.activity.c["DevIcmReceiver"],
                   (self.token if fee else ZERO_ADDRESS, fee), REQUIRED_GAS, allowed, payload)
        self.chain.send(user, MESSENGER, calldata(f"sendCrossChainMessage({INPUT})", [INPUT], [message]),
                        gas=GAS_ICM["send"])
        activity.erc20[user] -= fee
        if fee and n % 3 == 1:
            extra = rng.randint(1, 10**17)
            sent_id = message_id(self.identity.blockchain_id, partner.identity.blockchain_id, n)
            self.chain.send(user, MESSENGER, calldata("addFeeAmount(bytes32,address,uint256)",
                                                      ["bytes32", "address", "uint256"],
                                                      [bytes.fromhex(sent_id[2:]), self.token, extra]))
            activity.erc20[user] -= extra

    def _redeem(self) -> None:
        owed = int.from_bytes(messenger_call(self.chain.rpc, "checkRelayerRewardAmount(address,address)",
                                             ["address", "address"], [self.reward_redeemer, self.token]), "big")
        if owed:
            self.chain.send(self.reward_redeemer, MESSENGER,
                            calldata("redeemRelayerRewards(address)", ["address"], [self.token]))

    def summary(self, summary: DevchainSummary) -> DevchainSummary:
        summary.icm = {"chain": asdict(self.identity) | {"blockchain_id": self.identity.blockchain_id_hex,
                                                         "blockchain_id_cb58": self.identity.blockchain_id_cb58},
                       "partner_chain_id": self.partner.identity.chain_id, **self.counts}
        return summary


def generate_linked(first: LinkedChain, second: LinkedChain, icm: IcmSpec = IcmSpec(),
                    progress: Callable[[int], None] | None = None) -> tuple[DevchainSummary, DevchainSummary]:
    """Two devchains on two fresh anvils, generated in step with messages between them; `progress` hears how many
    of each chain's days' blocks are mined."""
    shape = {(c.spec.start, c.spec.days, c.spec.blocks_per_day) for c in (first, second)}
    if len(shape) != 1 or first.identity.blockchain_id == second.identity.blockchain_id:
        raise ValueError("linked devchains need the same days and blocks per day, and blockchain ids of their own")
    settings = [RpcSettings(url=c.rpc_url, batch_size=100, concurrency=1) for c in (first, second)]
    with JsonRpcClient(settings[0]) as rpc_a, JsonRpcClient(settings[1]) as rpc_b:
        generations = [Generation(rpc_a, first.spec), Generation(rpc_b, second.spec)]
        links = [_Link(g, c.identity, icm) for g, c in zip(generations, (first, second), strict=True)]
        for link in links:
            link.setup(_day_start(link.generation.spec.start) + 12)  # after the devchain's own deployment blocks
        links[0].connect(links[1])
        links[1].connect(links[0])
        for mined, _ in zip(*(g.blocks(link.before_mine) for g, link in zip(generations, links, strict=True)),
                            strict=True):
            if progress:
                progress(mined)
        a, b = (link.summary(g.finish()) for g, link in zip(generations, links, strict=True))
        return a, b


def _spec_record(chain: LinkedChain, icm: IcmSpec) -> dict:
    return {**asdict(chain.spec), "start": chain.spec.start.isoformat(), "icm": asdict(icm),
            "identity": asdict(chain.identity) | {"blockchain_id": chain.identity.blockchain_id_hex}}


def ensure_linked_devchains(first: LinkedChain, second: LinkedChain, records: tuple[Path, Path],
                            icm: IcmSpec = IcmSpec(), progress: Callable[[int], None] | None = None,
                            ) -> tuple[DevchainSummary, DevchainSummary]:
    """Generate the two linked devchains unless both anvils already hold exactly the recorded ones (ChainNotFresh
    when they hold something else: restart both)."""
    recorded = []
    for chain, record in zip((first, second), records, strict=True):
        if not record.exists():
            break
        summary = DevchainSummary(**json.loads(record.read_text()))
        with JsonRpcClient(RpcSettings(url=chain.rpc_url)) as rpc:
            head = rpc.call("eth_getBlockByNumber", ["latest", False])
        if summary.spec != _spec_record(chain, icm) or head["hash"] != summary.latest_block_hash:
            break
        recorded.append(summary)
    if len(recorded) == 2:
        return recorded[0], recorded[1]
    summaries = generate_linked(first, second, icm, progress)
    for chain, record, summary in zip((first, second), records, summaries, strict=True):
        summary.spec = _spec_record(chain, icm)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(asdict(summary), indent=1))
    return summaries


def relay(rpc_urls: tuple[str, str], seconds: float, poll_s: float = 1.0,
          report: Callable[[str], None] = print) -> int:
    """Deliver, both ways, every message one chain sent that the other has not received, for `seconds`; the
    deliveries wait in each node's pool for its next block. Returns how many were delivered."""
    delivered = 0
    with JsonRpcClient(RpcSettings(url=rpc_urls[0])) as a, JsonRpcClient(RpcSettings(url=rpc_urls[1])) as b:
        accounts = a.call("eth_accounts", [])
        relays = [(Relayer(source, messenger_call(destination, "blockchainID()"), accounts[REWARD_REDEEMER]),
                   destination) for source, destination in ((a, b), (b, a))]
        deadline = time.monotonic() + seconds
        while True:
            for relayer, destination in relays:
                for sent in relayer.sent():
                    if messenger_call(destination, "messageReceived(bytes32)", ["bytes32"],
                                      [bytes.fromhex(sent.message_id[2:])])[-1]:
                        continue
                    destination.call("eth_sendTransaction", [{"from": accounts[RELAYER], "to": MESSENGER,
                                                              "data": relayer.delivery(sent),
                                                              "gas": hex(GAS_ICM["deliver"])}])
                    delivered += 1
                    report(json.dumps({"delivered": sent.message_id, "sent_in_block": sent.block_number}))
            if time.monotonic() >= deadline:
                return delivered
            time.sleep(poll_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["relay"])
    parser.add_argument("--rpc-url", action="append", required=True, help="each chain's node (give two)")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if len(args.rpc_url) != 2:
        parser.error("give --rpc-url twice: the two chains")
    relay((args.rpc_url[0], args.rpc_url[1]), args.seconds)


if __name__ == "__main__":
    main()
