"""The fixture P-Chain: FIXTURES, not the network. Blocks, transactions, UTXOs and rewards for the devchain's
days (2024-06-01 to 06-03, a block the day before and one after), in the Data API's shapes (validated against
its spec by the tests), written into fixtures/avacloud.json. Every transaction's memo says it is a fixture
(but the RewardValidatorTxs', which have no memo), and every id is the SHA-256 of a label saying so (but the
C-Chain exports', which are the ids of fixtures/atomic.json's transactions).

They are consistent with each other and with the snapshots: every UTXO a transaction consumes was produced
by an earlier one (a funding transaction in the first block or, for imports, a C-Chain export of atomic.json:
encoded by Ava Labs' JavaScript library, its id, amount and owner read from there, see atomic_fixtures.py),
inputs equal outputs plus stake, L1 balance and the burned fee, ids are what avalanchego computes (UTXO ids from
their transaction's id and index), and every active or pending validator and delegator of the validators and
delegators snapshots has its staking transaction here (the snapshots' ids and times are set to match; the
completed ones get their rewards paid). The story also shows every other transaction type once: imports and
exports with the C-Chain (one export the C-Chain imports, one it does not), subnet and chain creation, an L1
conversion and its validators' lifecycle (ACP-77; placed in June 2024 although mainnet activated it in December,
so the demo's days hold it), a BaseTx and a type the Data API calls UNKNOWN.

    python -m avax_assets_dev.local.p_chain_fixtures   # rewrites the P-Chain pages and the snapshots' ids
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from avax_assets.primary import ids

FIXTURES = Path(__file__).parent / "fixtures" / "avacloud.json"
ATOMIC_FIXTURES = Path(__file__).parent / "fixtures" / "atomic.json"
MEMO = "0x" + b"avax-assets fixture".hex()
DAY = 86_400
START = 1717200000  # 2024-06-01T00:00:00Z, the devchain's first day
FEE = 1_000_000  # nAVAX
AVAX = ids.AVAX_ASSET[1]
P, C = ids.P_CHAIN, ids.C_CHAIN
NETWORK = "/v1/networks/mainnet"
BLOCKS_KEY = f"{NETWORK}/blockchains/p-chain/blocks"
TRANSACTIONS_KEY = f"{NETWORK}/blockchains/p-chain/transactions"
REWARDS_KEY = f"{NETWORK}/rewards"
CHAIN_INFO = {"chainName": "p-chain", "network": "mainnet"}
YEAR = 365 * DAY
# the P-Chain's exports to the C-Chain: "export 1" imported there (atomic_fixtures.py), "export 2" not
EXPORTED_TO_C = {"export 1": 250_000_000_000, "export 2": 30_000_000_000}
EXPORTED_OUTPUT = 1  # an export's UTXO for the C-Chain: after the exporter's change, output 0


def fid(label: str) -> str:
    """A fixture id: SHA-256 of a label, CB58 (valid as every id is, and plainly made up)."""
    return ids.cb58(hashlib.sha256(f"avax-assets fixture: {label}".encode()).digest())


def short(label: str) -> bytes:
    return hashlib.sha256(f"avax-assets fixture address: {label}".encode()).digest()[:20]


def address(label: str) -> str:
    return ids.address(1, short(label))


def node(label: str) -> str:
    return ids.node_id(short(f"node {label}"))


def asset(amount: int) -> dict:
    return {"assetId": AVAX, "name": "Avalanche", "symbol": "AVAX", "denomination": 9, "type": "secp256k1",
            "amount": str(amount)}


@dataclass
class Out:
    """A UTXO a transaction produces (its position fixed when the transaction is made)."""

    amount: int
    owner: str
    consumed_on: str = P
    staked: bool = False
    reward_type: str | None = None


@dataclass
class Tx:
    label: str
    kind: str
    time: int
    consumed: list[dict]
    outputs: list[Out]
    later: list[Out] = field(default_factory=list)  # exported or staked: after the outputs, as avalanchego numbers
    fields: dict = field(default_factory=dict)
    burned: int = FEE
    l1_balance: int = 0
    emitted_elsewhere: list[dict] = field(default_factory=list)  # a reward transaction's UTXOs (the staker's ids)

    @property
    def id(self) -> str:
        return fid(f"tx {self.label}")


class Story:
    def __init__(self) -> None:
        self.blocks: list[tuple[int, str, list[Tx]]] = []
        self.funding: list[Out] = []
        self.rewards: list[dict] = []

    def fund(self, amount: int, owner: str) -> dict:
        """A UTXO of the first block's funding transaction, to be consumed."""
        self.funding.append(Out(amount, owner))
        return {"tx": FUNDING, "index": len(self.funding) - 1, "out": self.funding[-1]}

    def block(self, time: int, kind: str, *txs: Tx) -> None:
        self.blocks.append((time, kind, list(txs)))


FUNDING = "funding"


def utxo(tx_hash: str, index: int, out: Out, created_on: str = P) -> dict:
    item = {"addresses": [out.owner], "asset": asset(out.amount), "consumedOnChainId": out.consumed_on,
            "createdOnChainId": created_on, "utxoId": ids.utxo_id_of(tx_hash, index), "amount": str(out.amount),
            "assetId": AVAX, "blockNumber": "0", "blockTimestamp": START - 3_600, "outputIndex": index,
            "txHash": tx_hash,
            "utxoType": "STAKE" if out.staked else "TRANSFER", "staked": out.staked, "threshold": 1,
            "platformLocktime": 0}
    if out.reward_type:
        item["rewardType"] = out.reward_type
    return item


def spend(ref: dict) -> dict:
    return {"ref": ref}


def transaction(story: Story, label: str, kind: str, time: int, pays: list[Out], later: list[Out] = (), *,
                funded_by: str, l1_balance: int = 0, imported: list[dict] = (), **fields) -> Tx:
    """A transaction paying `pays` and `later` from a funding UTXO of exactly what it needs (or from `imported`
    C-Chain UTXOs, whose change is its output)."""
    needed = sum(o.amount for o in (*pays, *later)) + FEE + l1_balance
    consumed = list(imported) or [spend(story.fund(needed, funded_by))]
    return Tx(label, kind, time, consumed, list(pays), list(later), fields, FEE, l1_balance)


def atomic_fixtures() -> dict:
    return json.loads(ATOMIC_FIXTURES.read_text())


def c_chain_export(label: str) -> dict:
    """The UTXO the C-Chain ExportTx `label` of atomic.json put in the P-Chain's shared memory (its output 0)."""
    (tx,) = (tx for block in atomic_fixtures()["blocks"] for tx in block["txs"] if tx["label"] == label)
    (output,) = tx["fields"]["exportedOutputs"]
    (owner,) = output["addresses"]
    return {"item": utxo(tx["id"], 0, Out(int(output["amount"]), ids.address(1, bytes.fromhex(owner[2:]))),
                         created_on=C)}


def import_from_c(story: Story, label: str, time: int, export: str) -> Tx:
    """An ImportTx of the C-Chain export `export` into its owner's P-Chain address, less the fee."""
    spent = c_chain_export(export)
    amount, (owner,) = int(spent["item"]["amount"]), spent["item"]["addresses"]
    return transaction(story, label, "ImportTx", time, [Out(amount - FEE, owner)], funded_by="", imported=[spent],
                       sourceChain=C, destinationChain=P)


def export_to_c(story: Story, label: str, time: int, owner: str) -> Tx:
    """An ExportTx of EXPORTED_TO_C[label] to `owner` on the C-Chain (output EXPORTED_OUTPUT, after the change)."""
    exporter = address("exporter")
    change = [Out(1_000_000_000, exporter)]
    assert len(change) == EXPORTED_OUTPUT
    return transaction(story, label, "ExportTx", time, change, [Out(EXPORTED_TO_C[label], owner, consumed_on=C)],
                       funded_by=exporter, sourceChain=P, destinationChain=C)


# --- the story ------------------------------------------------------------------------------------

@dataclass
class Snapshots:
    """The validators and delegators snapshot items the story's staking matches (mutated: ids and times)."""

    active: list[dict]
    pending: list[dict]
    completed: list[dict]
    delegators: dict[str, list[dict]]


def staking(story: Story, item: dict, label: str, kind: str, time: int, node_label: str, delegation: bool) -> Tx:
    """The staking transaction of a snapshot validator or delegator, its ids and times set to match."""
    amount = int(item["amountDelegated" if delegation else "amountStaked"])
    owner = address(f"rewards {label}")
    item.update(txHash=fid(f"tx {label}"), nodeId=node(node_label), startTimestamp=time, endTimestamp=time + YEAR)
    fields = {"nodeId": item["nodeId"], "subnetId": P, "startTimestamp": time, "endTimestamp": time + YEAR,
              "rewardAddresses": [owner], "estimatedReward": "41234567890"}
    if delegation:
        item["rewardAddresses"] = [owner]
    else:
        fields.update(delegationFeePercent=item["delegationFee"],
                      blsCredentials={"publicKey": "0x" + "ab" * 48, "proofOfPossession": "0x" + "cd" * 96})
    return transaction(story, label, kind, time, [Out(1_000_000_000, owner)], [Out(amount, owner, staked=True)],
                       funded_by=owner, **fields)


def reward(story: Story, label: str, time: int, staker: dict, staker_label: str, node_label: str,
           payments: list[tuple[str, int, str]], delegation: bool) -> Tx:
    """A RewardValidatorTx: the stake returned and the rewards paid, as UTXOs of the staking transaction (its
    outputs were a change output and the stake: the returned stake is its output 1, the rewards follow)."""
    staker_tx = fid(f"tx {staker_label}")
    amount = int(staker["amountDelegated" if delegation else "amountStaked"])
    owner = address(f"rewards {staker_label}")
    staker.update(txHash=staker_tx, nodeId=node(node_label), startTimestamp=time - YEAR, endTimestamp=time)
    emitted = [utxo(staker_tx, 1, Out(amount, owner))]
    for offset, (kind, value, to) in enumerate(payments, start=2):
        emitted.append(utxo(staker_tx, offset, Out(value, to, reward_type=kind)))
    tx = Tx(label, "RewardValidatorTx", time, [], [], fields={"stakingTxHash": staker_tx}, burned=0,
            emitted_elsewhere=emitted)
    for item in emitted[1:]:
        story.rewards.append({"addresses": item["addresses"], "txHash": staker_tx, "amountStaked": str(amount),
                              "nodeId": node(node_label), "startTimestamp": time - YEAR, "endTimestamp": time,
                              "rewardType": item["rewardType"], "utxoId": item["utxoId"],
                              "outputIndex": item["outputIndex"], "reward": asset(int(item["amount"])),
                              "rewardTxHash": tx.id})
    return tx


def l1_details(validation: str, node_label: str, weight: int, balance: int, change: int) -> dict:
    return {"validationId": validation, "validationIdHex": "0x" + ids.uncb58(validation).hex(),
            "nodeId": node(node_label), "subnetId": fid("subnet l1"), "weight": weight, "remainingBalance": balance,
            "balanceChange": change}


def tell(story: Story, snapshots: Snapshots) -> None:
    day1, day2, day3 = START, START + DAY, START + 2 * DAY
    v1, v2, v3 = snapshots.active
    d1, d2, d3 = snapshots.delegators["active"]
    operator = address("subnet operator")
    story.block(day1 + 3_600, "BanffStandardBlock", import_from_c(story, "import 1", day1 + 3_600, "c-chain export 1"))
    story.block(day1 + 7_200, "BanffStandardBlock",
                staking(story, v1, "validator 1", "AddPermissionlessValidatorTx", day1 + 7_200, "validator 1", False))
    story.block(day1 + 10_800, "BanffStandardBlock",
                staking(story, d1, "delegator 1", "AddPermissionlessDelegatorTx", day1 + 10_800, "validator 1", True))
    done = snapshots.completed[0]
    paid = reward(story, "reward validator 0", day1 + 14_400, done, "validator 0", "validator 0",
                  [("VALIDATOR", int(done["rewards"]["validationRewardAmount"]), address("rewards validator 0"))],
                  False)
    done["rewards"].update(rewardTxHash=paid.id, rewardAddresses=[address("rewards validator 0")])
    story.block(day1 + 14_400, "BanffProposalBlock", paid)
    story.block(day1 + 14_401, "BanffCommitBlock")
    story.block(day1 + 18_000, "BanffStandardBlock", transaction(
        story, "create subnet", "CreateSubnetTx", day1 + 18_000, [Out(5_000_000, operator)], funded_by=operator,
        subnetId=fid("tx create subnet"), subnetOwnershipInfo={"locktime": 0, "threshold": 1,
                                                                "addresses": [operator]}))
    story.block(day2 + 3_600, "BanffStandardBlock",
                staking(story, v2, "validator 2", "AddPermissionlessValidatorTx", day2 + 3_600, "validator 2", False),
                staking(story, v3, "validator 3", "AddPermissionlessValidatorTx", day2 + 3_601, "validator 3", False))
    story.block(day2 + 7_200, "BanffStandardBlock",
                staking(story, d2, "delegator 2", "AddPermissionlessDelegatorTx", day2 + 7_200, "validator 1", True),
                staking(story, d3, "delegator 3", "AddPermissionlessDelegatorTx", day2 + 7_201, "validator 1", True))
    l1_story(story, day2, operator)
    completed = snapshots.delegators["completed"]
    for n, (time, delegator) in enumerate(zip((day2 + 36_000, day2 + 39_600), completed, strict=True)):
        net, gross = int(delegator["netReward"]), int(delegator["grossReward"])
        paid = reward(story, f"reward delegator {5 + n}", time, delegator, f"delegator {5 + n}", "validator 1",
                      [("DELEGATOR", net, address(f"rewards delegator {5 + n}")),
                       ("VALIDATOR_FEE", gross - net, address("rewards validator 1"))], True)
        delegator["rewardAddresses"] = [address(f"rewards delegator {5 + n}")]
        story.block(time, "BanffProposalBlock", paid)
        story.block(time + 1, "BanffCommitBlock")
    story.block(day2 + 43_200, "BanffStandardBlock", transaction(
        story, "base", "BaseTx", day2 + 43_200, [Out(7_000_000_000, address("recipient"))], funded_by=address("payer")))
    story.block(day2 + 46_800, "BanffStandardBlock", transaction(
        story, "unknown", "UNKNOWN", day2 + 46_800, [Out(3_000_000, address("someone"))], funded_by=address("someone")))
    (pending,) = snapshots.pending
    story.block(day3 + 3_600, "BanffStandardBlock",
                staking(story, pending, "validator 4", "AddPermissionlessValidatorTx", day3 + 3_600, "validator 4",
                        False),
                staking(story, snapshots.delegators["pending"][0], "delegator 4", "AddPermissionlessDelegatorTx",
                        day3 + 3_601, "validator 1", True))
    story.block(day3 + 7_200, "BanffStandardBlock", transaction(
        story, "create chain", "CreateChainTx", day3 + 7_200, [Out(2_000_000, operator)], funded_by=operator,
        subnetId=fid("tx create subnet"), blockchainInfo={"chainName": "fixture chain", "vmId": fid("vm"),
                                                          "genesisData": "{\"chainId\": 99999}"}))
    c_chain_importer = ids.address(1, bytes.fromhex(atomic_fixtures()["keys"]["c-chain importer"]["short"][2:]))
    story.block(day3 + 10_800, "BanffStandardBlock",
                export_to_c(story, "export 1", day3 + 10_800, c_chain_importer),  # imported by its key's owner
                export_to_c(story, "export 2", day3 + 10_800, address("c-chain importer 2")))  # not imported
    story.block(day3 + 14_400, "BanffStandardBlock",
                import_from_c(story, "import 2", day3 + 14_400, "c-chain export 2"))


def l1_story(story: Story, day: int, operator: str) -> None:
    """An L1's conversion and its validators' lifecycle (ACP-77)."""
    first, second = fid("validation 1"), fid("validation 2")
    convert = transaction(story, "convert", "ConvertSubnetToL1Tx", day + 14_400, [Out(1_000_000, operator)],
                          funded_by=operator, l1_balance=2_000_000_000, subnetId=fid("subnet l1"),
                          l1ValidatorManagerDetails={"blockchainId": fid("l1 chain"),
                                                     "contractAddress": "0x" + "0c" * 20},
                          l1ValidatorDetails=[l1_details(first, "l1 validator 1", 100, 2_000_000_000, 2_000_000_000)],
                          amountL1ValidatorBalanceBurned=[asset(2_000_000_000)])
    register = transaction(story, "register", "RegisterL1ValidatorTx", day + 18_000, [Out(1_000_000, operator)],
                           funded_by=operator, l1_balance=500_000_000,
                           l1ValidatorDetails=[l1_details(second, "l1 validator 2", 20, 500_000_000, 500_000_000)],
                           amountL1ValidatorBalanceBurned=[asset(500_000_000)])
    increase = transaction(story, "increase", "IncreaseL1ValidatorBalanceTx", day + 21_600, [Out(1_000_000, operator)],
                           funded_by=operator, l1_balance=300_000_000,
                           l1ValidatorDetails=[l1_details(first, "l1 validator 1", 100, 2_300_000_000, 300_000_000)],
                           amountL1ValidatorBalanceBurned=[asset(300_000_000)])
    weight = transaction(story, "weight", "SetL1ValidatorWeightTx", day + 25_200, [Out(1_000_000, operator)],
                         funded_by=operator,
                         l1ValidatorDetails=[l1_details(second, "l1 validator 2", 0, 0, -500_000_000)])
    disable = transaction(story, "disable", "DisableL1ValidatorTx", day + 28_800, [Out(1_000_000, operator)],
                          funded_by=operator,
                          l1ValidatorDetails=[l1_details(first, "l1 validator 1", 100, 0, -2_300_000_000)])
    for tx, refund in ((weight, 500_000_000), (disable, 2_300_000_000)):  # the balance left goes back to its owner
        tx.emitted_elsewhere = [utxo(tx.id, len(tx.outputs), Out(refund, operator))]
    for tx in (convert, register, increase, weight, disable):
        story.block(tx.time, "BanffStandardBlock", tx)


# --- rendering: the Data API's items --------------------------------------------------------------

def render(story: Story) -> tuple[list[dict], list[dict]]:
    """The blocks and transactions as the Data API lists them, heights from 0 (the funding block, the day
    before) to the block after the last day."""
    funding = Tx(FUNDING, "BaseTx", START - 3_600, [], story.funding, burned=FEE)
    genesis = Out(sum(o.amount for o in story.funding) + FEE, address("genesis"))
    funding.consumed = [{"item": utxo(fid("genesis allocation"), 0, genesis)}]
    closing = Tx("closing", "BaseTx", START + 3 * DAY + 30, [], [], burned=0)
    closing.consumed = [{"item": utxo(fid("genesis allocation"), 1, Out(FEE, address("genesis")))}]
    closing.burned = FEE
    timeline = [(START - 3_600, "BanffStandardBlock", [funding]), *sorted(story.blocks, key=lambda b: b[0]),
                (START + 3 * DAY + 30, "BanffStandardBlock", [closing])]
    blocks, transactions = [], []
    parent = fid("block before the fixtures")
    for height, (time, kind, txs) in enumerate(timeline):
        block_id = fid(f"block {height}")
        items = [_transaction_item(tx, height, time, block_id) for tx in txs]
        blocks.append({"blockNumber": str(height), "blockHash": block_id, "parentHash": parent, "blockTimestamp": time,
                       "blockType": kind, "txCount": len(items), "transactions": [t["txHash"] for t in items],
                       "blockSizeBytes": 200 + 400 * len(items),
                       "proposerDetails": {"proposerNodeId": node("validator 1"), "proposerTimestamp": time},
                       "l1ValidatorsAccruedFees": 1_000 * height, "activeL1Validators": 1 if height > 12 else 0,
                       "currentSupply": str(720_000_000 * 10**9 - 1_000 * height)})
        transactions += items
        parent = block_id
    return blocks, transactions


def _transaction_item(tx: Tx, height: int, time: int, block_id: str) -> dict:
    """A transaction as the Data API lists it, at its block's height and time."""
    position = {"blockNumber": str(height), "blockTimestamp": time}
    emitted = [utxo(tx.id, n, out) | position for n, out in enumerate((*tx.outputs, *tx.later))]
    emitted += [item | position for item in tx.emitted_elsewhere]
    consumed = [_consumed(ref, tx, height, time) for ref in tx.consumed]
    staked = [o.amount for o in tx.later if o.staked]
    item = {"txHash": tx.id, "txType": tx.kind, "blockTimestamp": time, "blockNumber": str(height),
            "blockHash": block_id, "consumedUtxos": consumed, "emittedUtxos": emitted,
            "value": [asset(sum(int(u["amount"]) for u in emitted))] if emitted else [],
            "amountBurned": [asset(tx.burned)] if tx.burned else [], "amountStaked": [asset(sum(staked))] if staked
            else [], "amountL1ValidatorBalanceBurned": [], **tx.fields}
    if tx.kind != "RewardValidatorTx":  # it has no memo (no BaseTx): the network makes it
        item["memo"] = MEMO
    return item


def _consumed(ref: dict, tx: Tx, height: int, time: int) -> dict:
    if "item" in ref:
        item = dict(ref["item"])
    else:
        found = ref["ref"]
        item = utxo(fid(f"tx {FUNDING}"), found["index"], found["out"])
    return item | {"consumingTxHash": tx.id, "consumingBlockNumber": str(height), "consumingBlockTimestamp": time}


# --- the fixtures file --------------------------------------------------------------------------

STATUSES = ("active", "pending", "completed")


def snapshots_of(pages: dict) -> Snapshots:
    def items(key: str, status: str, name: str) -> list[dict]:
        return [item for page in pages[f"{NETWORK}/{key}?{name}Status={status}"] for item in page[key]]

    return Snapshots(items("validators", "active", "validation"), items("validators", "pending", "validation"),
                     items("validators", "completed", "validation"),
                     {status: items("delegators", status, "delegation") for status in STATUSES})


def written(pages: dict) -> dict:
    """The fixtures with the P-Chain pages (re)made and the snapshots' staking ids and times matched to them."""
    story = Story()
    tell(story, snapshots_of(pages))
    blocks, transactions = render(story)
    pages[BLOCKS_KEY] = [{"blocks": blocks, "chainInfo": CHAIN_INFO}]
    pages[TRANSACTIONS_KEY] = [{"transactions": transactions, "chainInfo": CHAIN_INFO}]
    pages[REWARDS_KEY] = [{"historicalRewards": story.rewards}]
    return pages


def main() -> None:
    FIXTURES.write_text(json.dumps(written(json.loads(FIXTURES.read_text())), indent=1) + "\n")
    print(f"wrote the fixture P-Chain into {FIXTURES}")


if __name__ == "__main__":
    main()
