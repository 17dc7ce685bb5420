"""The P-Chain's two sources against the fixture server (an in-process HTTP server, no service): the Data API's
lists and a node's platform API give the same rows where both say them; the fixtures are consistent with
themselves and the snapshots, and say they are fixtures; values that do not fit are named; a node's
transaction types are recognised by their JSON fields as avalanchego writes them."""

import copy
import json

import pytest

from avax_assets.avacloud.client import AvaCloudClient, ComputeBudget
from avax_assets.avacloud.settings import AvaCloudSettings
from avax_assets.core.errors import PermanentError, SourceDataError
from avax_assets.primary import data_api, ids, node
from avax_assets.primary.settings import PChainSettings
from avax_assets_dev.local import p_chain_fixtures as story
from avax_assets_dev.local.avacloud_fixtures import FIXTURES, AvaCloudFixtureServer
from avax_assets_dev.local.p_chain_api import PChainFixtures, signed

DAYS = ("2024-06-01", "2024-06-02", "2024-06-03")
PAGES = json.loads(FIXTURES.read_text())
TRANSACTIONS = [t for page in PAGES[story.TRANSACTIONS_KEY] for t in page["transactions"]]
# what a node does not say (primary/node.py): compared only between rows both sources give
NODE_SILENT = {
    "p_chain_blocks": {"proposer_node_id", "l1_validators_accrued_fees", "active_l1_validators", "current_supply"},
    "p_chain_transactions": {"estimated_reward", "reward_transaction_id", "weight", "l1_validators",
                             "l1_validation_id", "utxo_count"},
    "p_chain_utxos": {"addresses", "locktime", "threshold", "utxo_type"},
}


@pytest.fixture(scope="module")
def server():
    with AvaCloudFixtureServer() as running:
        yield running


def from_data_api(server, day: str, page_size: int = 3) -> tuple[dict, data_api.Counts]:
    counts, rows = data_api.Counts(), {}
    settings = AvaCloudSettings(data_url=server.url, page_size=page_size)
    with AvaCloudClient(settings, budget=ComputeBudget(100_000)) as client:
        for chunk in data_api.day_chunks(client, "mainnet", day, counts, node.KNOWN_TYPES):
            for name, batch in chunk.items():
                rows.setdefault(name, []).extend(batch.to_pylist())
    return rows, counts


def from_node(server, day: str) -> tuple[dict, dict]:
    unknown, rows = {}, {}
    with node.PlatformClient(PChainSettings(rpc_url=f"{server.url}/ext/bc/P")) as client:
        for chunk in node.day_chunks(client, day, 1, unknown):
            for name, batch in chunk.items():
                rows.setdefault(name, []).extend(batch.to_pylist())
    return rows, unknown


KEYS = {"p_chain_blocks": ("block_number",), "p_chain_transactions": ("transaction_id",),
        "p_chain_utxos": ("transaction_id", "direction", "utxo_id")}


def keyed(name: str, rows: list[dict]) -> dict:
    return {tuple(row[k] for k in KEYS[name]): row for row in rows}


@pytest.mark.parametrize("day", DAYS)
def test_the_node_and_the_data_api_give_the_same_rows_where_both_say_them(server, day):
    api, counts = from_data_api(server, day)
    by_node, unknown = from_node(server, day)
    assert counts.outside_the_day == 0
    assert counts.unknown_types == unknown  # UNKNOWN from the API, fields no type has from the node
    for name, silent in NODE_SILENT.items():
        api_rows, node_rows = keyed(name, api[name]), keyed(name, by_node[name])
        # the node has no RewardValidatorTx's UTXOs and no L1 refunds (the executor makes them)
        assert set(node_rows) <= set(api_rows), name
        for key, row in node_rows.items():
            assert {c: row[c] for c in row if c not in silent} == \
                {c: api_rows[key][c] for c in row if c not in silent}, (name, key)
    missing = {key for key in keyed("p_chain_utxos", api["p_chain_utxos"])} - \
        set(keyed("p_chain_utxos", by_node["p_chain_utxos"]))
    makers = {t["transaction_id"]: t["tx_type"] for t in api["p_chain_transactions"]}
    assert {makers[key[0]] for key in missing} <= {"RewardValidatorTx", "SetL1ValidatorWeightTx",
                                                    "DisableL1ValidatorTx"}


def test_a_day_has_every_block_and_transaction_and_pages_are_followed(server):
    days = {day: from_data_api(server, day, page_size=2)[0] for day in DAYS}
    blocks = [b for rows in days.values() for b in rows["p_chain_blocks"]]
    assert sorted(b["block_number"] for b in blocks) == list(range(1, 24))  # 0 the day before, 24 the day after
    transactions = [t for rows in days.values() for t in rows["p_chain_transactions"]]
    assert len(transactions) == sum(b["transaction_count"] for b in blocks) == 24
    assert {t["tx_type"] for t in transactions} == {
        "ImportTx", "ExportTx", "AddPermissionlessValidatorTx", "AddPermissionlessDelegatorTx", "RewardValidatorTx",
        "CreateSubnetTx", "CreateChainTx", "ConvertSubnetToL1Tx", "RegisterL1ValidatorTx",
        "IncreaseL1ValidatorBalanceTx", "SetL1ValidatorWeightTx", "DisableL1ValidatorTx", "BaseTx", "UNKNOWN"}
    memos = {t["tx_type"] == "RewardValidatorTx": t["memo"] for t in transactions}
    assert memos == {False: story.MEMO, True: None}  # every fixture says it is one (a reward has no memo)
    assert bytes.fromhex(story.MEMO[2:]) == b"avax-assets fixture"
    big = next(t for t in transactions if t["amount_staked"] == "18446744073709551617000")
    assert big["tx_type"] == "AddPermissionlessValidatorTx"  # above uint64, exact


def test_the_fixtures_are_what_the_generator_writes_and_consistent():
    assert story.written(copy.deepcopy(PAGES)) == PAGES
    produced = {}
    for tx in TRANSACTIONS:
        for utxo in tx["emittedUtxos"]:
            assert utxo["utxoId"] == ids.utxo_id_of(utxo["txHash"], utxo["outputIndex"])
            produced[utxo["utxoId"]] = utxo
    for tx in TRANSACTIONS:
        for utxo in tx["consumedUtxos"]:
            assert utxo["utxoId"] in produced or utxo["createdOnChainId"] == ids.C_CHAIN or \
                utxo["txHash"] == story.fid("genesis allocation"), (tx["txType"], utxo["utxoId"])
        own = [u for u in tx["emittedUtxos"] if u["txHash"] == tx["txHash"]]
        refund = {"SetL1ValidatorWeightTx": 500_000_000, "DisableL1ValidatorTx": 2_300_000_000}.get(tx["txType"], 0)
        spent = sum(int(u["amount"]) for u in tx["consumedUtxos"])
        balance = sum(int(a["amount"]) for a in tx["amountL1ValidatorBalanceBurned"])
        burned = sum(int(a["amount"]) for a in tx["amountBurned"])
        assert spent + refund == sum(int(u["amount"]) for u in own) + balance + burned, tx["txType"]


def test_every_current_validator_and_delegator_has_its_staking_transaction():
    staked = {t["txHash"] for t in TRANSACTIONS if t["txType"].startswith("AddPermissionless")}
    current = [item for status in ("active", "pending")
               for key, items in (("validators", "validationStatus"), ("delegators", "delegationStatus"))
               for page in PAGES[f"/v1/networks/mainnet/{key}?{items}={status}"] for item in page[key]]
    assert len(current) == 8 and {item["txHash"] for item in current} == staked
    rewarded = {t["stakingTxHash"] for t in TRANSACTIONS if t["txType"] == "RewardValidatorTx"}
    lists = (("validators", "validationStatus"), ("delegators", "delegationStatus"))
    completed = {item["txHash"] for key, items in lists
                 for page in PAGES[f"/v1/networks/mainnet/{key}?{items}=completed"] for item in page[key]}
    assert rewarded == completed


def test_a_node_transaction_type_is_known_by_its_fields_only_exactly():
    for tx in TRANSACTIONS:
        assert node.transaction_type(signed(tx)["unsignedTx"]) == tx["txType"]
    base = {"networkID": 1, "blockchainID": ids.P_CHAIN, "outputs": [], "inputs": [], "memo": "0x"}
    assert node.transaction_type({**base, "validationID": "x", "balance": 1}) == "IncreaseL1ValidatorBalanceTx"
    assert node.transaction_type({**base, "validationID": "x"}) == "UNKNOWN"  # a subset of a type's fields
    assert node.transaction_type({"txID": "x"}) == "RewardValidatorTx"
    assert node.transaction_type({"time": 1}) == "AdvanceTimeTx"
    assert node.transaction_type({"validator": {}, "stake": [], "rewardsOwner": {}, "shares": 1, **base}) == \
        "AddValidatorTx"


# The top-level json tags of each type's struct in avalanchego (vms/platformvm/txs/*_tx.go, August 2026), as its
# JSON gives them beside BaseTx's: what a real node sends, whatever the fixtures make
AVALANCHEGO_FIELDS = {
    "TransformSubnetTx": "subnetID assetID initialSupply maximumSupply minConsumptionRate maxConsumptionRate "
                         "minValidatorStake maxValidatorStake minStakeDuration maxStakeDuration minDelegationFee "
                         "minDelegatorStake maxValidatorWeightFactor uptimeRequirement subnetAuthorization",
    "AddAutoRenewedValidatorTx": "nodeID signer stake validationRewardsOwner delegationRewardsOwner validatorAuthority "
                                 "delegationShares autoCompoundRewardShares period",
    "AddPermissionlessValidatorTx": "validator subnetID signer stake validationRewardsOwner delegationRewardsOwner "
                                    "shares",
    "ConvertSubnetToL1Tx": "subnetID chainID address validators subnetAuthorization",
    "CreateChainTx": "subnetID chainName vmID fxIDs genesisData subnetAuthorization",
    "SetAutoRenewedValidatorConfigTx": "txID auth autoCompoundRewardShares period",
}


def test_a_real_node_transaction_is_known_by_avalanchegos_fields():
    base = {"networkID": 1, "blockchainID": ids.P_CHAIN, "outputs": [], "inputs": [], "memo": "0x"}
    for kind, fields in AVALANCHEGO_FIELDS.items():
        assert node.transaction_type({**base, **dict.fromkeys(fields.split(), 1)}) == kind


def test_a_banff_proposal_block_gives_its_decision_transactions_then_its_proposal():
    decision, proposal = {"id": "decision"}, {"id": "proposal"}
    assert node.transactions_of({"txs": [decision], "tx": proposal}) == [decision, proposal]
    assert node.transactions_of({"txs": [], "tx": proposal}) == [proposal]
    assert node.transactions_of({"txs": [decision]}) == [decision]
    assert node._weight({"validator": {"weight": "2000000000000"}}) == 2_000_000_000_000
    with pytest.raises(node.BadField, match="validator.weight"):
        node._weight({"validator": {"weight": str(2**64)}})


def test_a_value_that_does_not_fit_is_named_with_dataset_partition_and_item():
    item = copy.deepcopy(next(t for t in TRANSACTIONS if t["txType"] == "ImportTx"))
    item["blockNumber"] = "12.5"
    with pytest.raises(SourceDataError, match=r"dataset 'p_chain_transactions' partition 2024-06-01: field "
                                              r"'blockNumber' is not an integer: '12.5' at item 3"):
        data_api.transaction_row("2024-06-01", item, "item 3", ids.AVAX_ASSET[1])
    item = copy.deepcopy(next(t for t in TRANSACTIONS if t["txType"] == "ImportTx"))
    del item["consumedUtxos"][0]["utxoId"]
    row = data_api.transaction_row("2024-06-01", item, "item 3", ids.AVAX_ASSET[1])
    with pytest.raises(SourceDataError, match=r"field 'utxoId' is missing at consumedUtxos\[0\] of item 3"):
        data_api.utxo_rows("2024-06-01", row, item, "item 3")


def test_the_node_refuses_a_day_before_block_times_and_names_a_block_it_cannot_read(server):
    fixtures = PChainFixtures(PAGES)
    with node.PlatformClient(PChainSettings(rpc_url=f"{server.url}/ext/bc/P")) as client:
        assert node.day_heights(client, "2024-06-02").first == 7
    block = fixtures.block_json(fixtures.blocks[7])
    rows = node.NodeRows("2024-06-02", 7, 1)
    with pytest.raises(SourceDataError, match="block type id 99, not a known one"):
        rows.block(block, "0x0000" + (99).to_bytes(4, "big").hex())
    apricot = {**block, "time": None}
    del apricot["time"]

    class Clock:  # a node whose block before the day has no time (Apricot): the day is refused
        def block(self, height, encoding):
            return apricot if height == 6 else fixtures.block_json(fixtures.blocks[height])

        def height(self):
            return len(fixtures.blocks) - 1

        endpoint = "fake#p-chain"

    with pytest.raises(PermanentError, match="no block time before Banff .*AVAX_P_CHAIN_RPC_URL"):
        node.day_heights(Clock(), "2024-06-02")
