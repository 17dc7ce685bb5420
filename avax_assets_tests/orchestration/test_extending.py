"""A new dataset of each extensible kind, added from this module alone, through the entries
ARCHITECTURE.md names: an AvaCloud snapshot (a `Snapshot` of a Data API list), a dataset decoded from
logs (a `LogEvent`) and an event from an ABI file (one file, one `declare`). All become assets with the
factory and land in ClickHouse like the shipped ones."""

import json

import dagster as dg
import httpx

from avax_assets.avacloud.assets import snapshot_asset
from avax_assets.avacloud.snapshots import CHAINS_PATH, NETWORK, Endpoint, Snapshot, snapshot
from avax_assets.catalogue import Catalogue
from avax_assets.core.errors import NotDecodable
from avax_assets.core.schema import HEX, TEXT, U8, U256, Column, Dataset
from avax_assets.events import datasets as events
from avax_assets.events.assets import event_asset
from avax_assets.orchestration.factory import dataset_assets
from avax_assets.orchestration.partitions import Partitions
from avax_assets.avacloud.resources import AvaCloudResource
from avax_assets.tokens.assets import decoded_asset
from avax_assets.tokens.datasets import JOINS_TRANSACTION, LOG_POSITION
from avax_assets.tokens.decode import LogEvent, data_words, log_position, topic_address
from avax_assets_dev.devchain.generator import ARTIFACTS
from avax_assets_dev.local.avacloud_fixtures import FIXTURES, AvaCloudFixtureServer

# --- a snapshot: one declaration, one entry -----------------------------------------------------------

NETWORK_TOKENS = snapshot(
    "network_tokens", "avalanche.network-tokens", "The native token of each EVM chain.", "chain_id",
    Column("chain_id", TEXT, source="chainId"),
    Column("token_name", TEXT, source="networkToken.name"),
    Column("token_symbol", TEXT, source="networkToken.symbol"),
    Column("token_decimals", U8, source="networkToken.decimals"),
)
NETWORK_TOKENS_SNAPSHOT = Snapshot(NETWORK_TOKENS,
                                   (Endpoint(CHAINS_PATH, "chains", {"network": NETWORK}, paged=False),))

# --- a log-decoded dataset: one declaration, one decoder ------------------------------------------

APPROVAL = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"  # Approval(address,address,uint256)
ERC20_APPROVALS = Dataset(
    name="erc20_approvals", topic="avalanche.erc20-approvals.43114", description="ERC-20 Approval events.",
    key=("block_number", "log_index"), parent=JOINS_TRANSACTION,
    columns=(*LOG_POSITION, Column("owner", HEX), Column("spender", HEX), Column("value", U256)),
)


def approval(log: dict) -> list[dict]:
    words = data_words(log["data"])
    if log["topic2"] is None or log["topic3"] is not None or len(words) != 1:
        raise NotDecodable("Approval must have 3 topics and one 32-byte word of data")
    return [{**log_position(log), "owner": topic_address(log["topic1"], "owner"),
             "spender": topic_address(log["topic2"], "spender"), "value": str(int(words[0], 16))}]


APPROVALS = LogEvent(ERC20_APPROVALS, (APPROVAL,), approval)


def test_a_snapshot_dataset_added_here_lands_in_clickhouse(resources):
    day = "2024-06-01"
    chains = json.loads(FIXTURES.read_text())["/v1/chains"][0]["chains"]
    assets = dataset_assets(snapshot_asset(NETWORK_TOKENS_SNAPSHOT), Partitions.from_settings())
    with AvaCloudFixtureServer() as server:
        served = {**resources, "avacloud": AvaCloudResource(data_url=server.url)}
        result = dg.materialize(assets, partition_key=day, resources=served)
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    warehouse = resources["clickhouse"].warehouse()
    rows = warehouse.client.query("SELECT chain_id, token_symbol, token_decimals FROM avax.network_tokens "
                                  "ORDER BY chain_id").result_rows
    assert rows == sorted((c["chainId"], c["networkToken"]["symbol"], c["networkToken"]["decimals"]) for c in chains)


def test_a_log_decoded_dataset_added_here_lands_in_clickhouse(resources, stack, devchain):
    approvals_land_in_clickhouse(decoded_asset(APPROVALS), resources, stack, devchain)


def test_an_event_from_an_abi_file_added_here_lands_in_clickhouse(resources, stack, devchain, tmp_path, monkeypatch):
    """One ABI file (the devchain token's, as solc wrote it) and one declaration."""
    (tmp_path / "dev_token.json").write_text(json.dumps(ARTIFACTS["DevToken"]["abi"]))
    monkeypatch.setattr(events, "ABIS", tmp_path)
    declared = events.declare("erc20_approval_events", "dev_token.json", "Approval", "ERC-20 approvals.",
                              columns={"value": "allowance, token base units"})
    assert declared.dataset.topic == "avalanche.events.erc20_approval_events.43114"
    approvals_land_in_clickhouse(event_asset(declared), resources, stack, devchain)


def approvals_land_in_clickhouse(spec, resources, stack, devchain) -> None:
    day, (first, last) = next((d, blocks) for d, blocks in devchain.blocks_by_day.items()
                              if node_approvals(stack.anvil.url, *blocks))
    expected = node_approvals(stack.anvil.url, first, last)
    name = spec.dataset.name
    assets = [*Catalogue().scope("chain"), *dataset_assets(spec, Partitions.from_settings())]
    selection = ["blocks", "transactions", "logs", "clickhouse_blocks", "clickhouse_transactions", name,
                 f"clickhouse_{name}"]
    result = dg.materialize(assets, selection=selection, partition_key=day, resources=resources)
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    warehouse = resources["clickhouse"].warehouse()
    rows = warehouse.client.query(f"SELECT block_number, log_index, owner, spender, toString(value) "
                                  f"FROM avax.{name} WHERE toDate(block_timestamp) = {{d:Date}} "
                                  "ORDER BY block_number, log_index", parameters={"d": day}).result_rows
    assert [tuple(row) for row in rows] == expected and expected


def node_approvals(url: str, first: int, last: int) -> list[tuple]:
    logs = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [
        {"fromBlock": hex(first), "toBlock": hex(last), "topics": [APPROVAL]}]}).json()["result"]
    return [(int(log["blockNumber"], 16), int(log["logIndex"], 16), "0x" + log["topics"][1][26:],
             "0x" + log["topics"][2][26:], str(int(log["data"], 16))) for log in logs]
