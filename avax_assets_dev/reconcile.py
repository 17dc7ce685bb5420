"""Reconcile what ClickHouse holds with the chain state the node reports at a block: plain functions,
used by the tests and the demo. Each returns what it checked and every mismatch it found."""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_hash.auto import keccak

from avax_assets.analytics.views import ZERO_ADDRESS
from avax_assets.chain.rpc import Call, JsonRpcClient
from avax_assets.core.clickhouse import ClickHouseWarehouse
from avax_assets.core.errors import RpcError
from avax_assets.tokens.decode import TRANSFER, TRANSFER_BATCH, TRANSFER_SINGLE

VALUE_MOVING_CALLS = ("CALL", "CREATE", "CREATE2", "SELFDESTRUCT")


@dataclass
class Reconciliation:
    name: str
    checked: int = 0
    mismatches: list[tuple] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.checked > 0 and not self.mismatches

    def __str__(self) -> str:
        state = "match" if self.ok else f"{len(self.mismatches)} MISMATCHES, e.g. {self.mismatches[:3]}"
        return f"{self.name}: {self.checked} checked, {state}"


def _call_data(signature: str, *words: int | str) -> str:
    encoded = "".join(format(int(w, 16) if isinstance(w, str) else w, "064x") for w in words)
    return "0x" + keccak(signature.encode())[:4].hex() + encoded


def erc20_balances(warehouse: ClickHouseWarehouse, rpc: JsonRpcClient, block: int) -> Reconciliation:
    """Every (token, holder) balance computed from transfers equals balanceOf at `block`."""
    rows = warehouse.client.query(
        f"SELECT token_address, holder, balance FROM {warehouse.qualified('erc20_balances')} "
        "WHERE last_block <= {block:UInt64} ORDER BY token_address, holder", parameters={"block": block}).result_rows
    calls = [Call("eth_call", [{"to": token, "data": _call_data("balanceOf(address)", holder)}, hex(block)])
             for token, holder, _ in rows]
    result = Reconciliation("ERC-20 balances vs balanceOf", len(rows))
    for (token, holder, balance), onchain in zip(rows, rpc.batch(calls)):
        if int(balance) != int(onchain, 16):
            result.mismatches.append((token, holder, int(balance), int(onchain, 16)))
    return result


def erc721_owners(warehouse: ClickHouseWarehouse, rpc: JsonRpcClient, block: int) -> Reconciliation:
    """The last transfer's recipient of every token id is its ownerOf at `block`; burned ids revert."""
    rows = warehouse.client.query(
        f"SELECT token_address, toString(token_id), argMax(to_address, (block_number, log_index)) "
        f"FROM {warehouse.qualified('erc721_transfers')} WHERE block_number <= {{block:UInt64}} "
        "GROUP BY token_address, token_id ORDER BY token_address, token_id", parameters={"block": block}).result_rows
    result = Reconciliation("ERC-721 owners vs ownerOf", len(rows))
    for token, token_id, owner in rows:
        call = [{"to": token, "data": _call_data("ownerOf(uint256)", int(token_id))}, hex(block)]
        try:
            onchain = "0x" + rpc.call("eth_call", call)[-40:]
        except RpcError:
            onchain = ZERO_ADDRESS  # ownerOf reverts for a burned (or never minted) token
        if onchain != owner:
            result.mismatches.append((token, token_id, owner, onchain))
    return result


def native_flows(warehouse: ClickHouseWarehouse, rpc: JsonRpcClient, block: int,
                 contracts: list[str]) -> Reconciliation:
    """Value into minus value out of each contract over successful internal transactions equals its
    native balance at `block` (for contracts that started empty and pay no gas)."""
    result = Reconciliation("native balances vs internal transaction flows", len(contracts))
    for address in contracts:
        received, sent = warehouse.client.query(
            f"SELECT sumIf(value, to_address = {{a:String}}), sumIf(value, from_address = {{a:String}}) "
            f"FROM {warehouse.qualified('internal_transactions')} WHERE reverted = 0 AND block_number <= {{block:UInt64}} "
            "AND call_type IN {types:Array(String)}",
            parameters={"a": address, "block": block, "types": list(VALUE_MOVING_CALLS)}).result_rows[0]
        onchain = int(rpc.call("eth_getBalance", [address, hex(block)]), 16)
        if int(received) - int(sent) != onchain:
            result.mismatches.append((address, int(received) - int(sent), onchain))
    return result


def dataset_counts(warehouse: ClickHouseWarehouse, rpc: JsonRpcClient, first: int, last: int) -> Reconciliation:
    """Rows of every chain dataset over [first, last] equal what the node reports for those blocks."""
    headers = rpc.batch([Call("eth_getBlockByNumber", [hex(n), False]) for n in range(first, last + 1)])
    logs = rpc.call("eth_getLogs", [{"fromBlock": hex(first), "toBlock": hex(last)}])
    transactions = sum(len(h["transactions"]) for h in headers)

    def count(topic0: str, topics: int | None = None) -> int:
        return sum(1 for log in logs if log["topics"] and log["topics"][0] == topic0
                   and (topics is None or len(log["topics"]) == topics))

    expected = {
        "blocks": ("1", len(headers)),
        "transactions": ("1", transactions),
        "logs": ("1", len(logs)),
        "erc20_transfers": ("1", count(TRANSFER, 3)),
        "erc721_transfers": ("1", count(TRANSFER, 4)),
        "erc1155_transfers": ("is_batch = 0", count(TRANSFER_SINGLE)),
        "internal_transactions": ("trace_address = ''", transactions),
    }
    result = Reconciliation("dataset counts vs node", len(expected) + 1)
    for table, (where, node_count) in expected.items():
        rows = warehouse.client.query(
            f"SELECT count() FROM {warehouse.qualified(table)} WHERE block_number BETWEEN {{a:UInt64}} AND {{b:UInt64}} "
            f"AND {where}", parameters={"a": first, "b": last}).result_rows[0][0]
        if rows != node_count:
            result.mismatches.append((table, rows, node_count))
    batches = warehouse.client.query(
        f"SELECT uniqExact(block_number, log_index) FROM {warehouse.qualified('erc1155_transfers')} "
        "WHERE is_batch = 1 AND block_number BETWEEN {a:UInt64} AND {b:UInt64}", parameters={"a": first, "b": last})
    if batches.result_rows[0][0] != count(TRANSFER_BATCH):
        result.mismatches.append(("erc1155_transfers batches", batches.result_rows[0][0], count(TRANSFER_BATCH)))
    return result
