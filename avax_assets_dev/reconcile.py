"""Reconcile what ClickHouse holds with the chain state the node reports at a block: plain functions,
used by the tests and the demo. Each returns what it checked and every mismatch it found."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import eth_abi
from eth_hash.auto import keccak

from avax_assets.analytics.views import ZERO_ADDRESS
from avax_assets.chain.rpc import Call, CallError, JsonRpcClient
from avax_assets.core.clickhouse import ClickHouseWarehouse
from avax_assets.core.errors import RpcError
from avax_assets.core.schema import CHAIN_ID
from avax_assets.events.datasets import (EVENTS, TELEPORTER_MESSENGER, UNISWAP_V2_SYNC, WAVAX, WAVAX_DEPOSIT,
                                         WAVAX_WITHDRAWAL)
from avax_assets.primary.atomic import decode_atomic, is_batch
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


def erc20_balances(warehouse: ClickHouseWarehouse, rpc: JsonRpcClient, block: int,
                   chain_id: int = CHAIN_ID) -> Reconciliation:
    """Every (token, holder) balance computed from transfers equals balanceOf at `block`."""
    rows = warehouse.client.query(
        f"SELECT token_address, holder, balance FROM {warehouse.qualified('erc20_balances')} "
        "WHERE chain_id = {chain:UInt64} AND last_block <= {block:UInt64} ORDER BY token_address, holder",
        parameters={"block": block, "chain": chain_id}).result_rows
    calls = [Call("eth_call", [{"to": token, "data": _call_data("balanceOf(address)", holder)}, hex(block)])
             for token, holder, _ in rows]
    result = Reconciliation("ERC-20 balances vs balanceOf", len(rows))
    for (token, holder, balance), onchain in zip(rows, rpc.batch(calls), strict=True):
        if int(balance) != int(onchain, 16):
            result.mismatches.append((token, holder, int(balance), int(onchain, 16)))
    return result


def erc721_owners(warehouse: ClickHouseWarehouse, rpc: JsonRpcClient, block: int,
                  chain_id: int = CHAIN_ID) -> Reconciliation:
    """The last transfer's recipient of every token id is its ownerOf at `block`; burned ids revert."""
    rows = warehouse.client.query(
        f"SELECT token_address, toString(token_id), argMax(to_address, (block_number, log_index)) "
        f"FROM {warehouse.qualified('erc721_transfers')} WHERE chain_id = {{chain:UInt64}} AND "
        "block_number <= {block:UInt64} GROUP BY token_address, token_id ORDER BY token_address, token_id",
        parameters={"block": block, "chain": chain_id}).result_rows
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
                 contracts: list[str], chain_id: int = CHAIN_ID) -> Reconciliation:
    """Value into minus value out of each contract over successful internal transactions equals its
    native balance at `block` (for contracts that started empty and pay no gas)."""
    result = Reconciliation("native balances vs internal transaction flows", len(contracts))
    for address in contracts:
        received, sent = warehouse.client.query(
            f"SELECT sumIf(value, to_address = {{a:String}}), sumIf(value, from_address = {{a:String}}) "
            f"FROM {warehouse.qualified('internal_transactions')} "
            "WHERE chain_id = {chain:UInt64} AND reverted = 0 AND block_number <= {block:UInt64} AND "
            "call_type IN {types:Array(String)}",
            parameters={"a": address, "block": block, "types": list(VALUE_MOVING_CALLS),
                        "chain": chain_id}).result_rows[0]
        onchain = int(rpc.call("eth_getBalance", [address, hex(block)]), 16)
        if int(received) - int(sent) != onchain:
            result.mismatches.append((address, int(received) - int(sent), onchain))
    return result


def atomic_transactions(header: dict, chain_id: int = CHAIN_ID) -> list:
    """The atomic transactions in a block's blockExtraData as the node serves it (anvil serves none; the demo's
    FAKE in front of it, avax_assets_dev/local/atomic_proxy.py, some)."""
    extra = header.get("blockExtraData") or "0x"
    time = dt.datetime.fromtimestamp(int(header["timestamp"], 16), dt.timezone.utc)
    return decode_atomic(bytes.fromhex(extra[2:]), is_batch(chain_id, time))


def dataset_counts(warehouse: ClickHouseWarehouse, rpc: JsonRpcClient, first: int, last: int,
                   tables: set[str] | None = None, chain_id: int = CHAIN_ID) -> Reconciliation:
    """Rows of every chain dataset (or of `tables`) over [first, last] equal what the node reports for those
    blocks."""
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
        "atomic_transactions": ("1", sum(len(atomic_transactions(h, chain_id)) for h in headers)),
        **{event.dataset.table: ("1", sum(1 for log in logs if log["topics"] and log["topics"][0] == event.topic0
                                          and (not event.contracts or log["address"].lower() in event.contracts)))
           for event in EVENTS},
    }
    expected = {table: count for table, count in expected.items() if tables is None or table in tables}
    result = Reconciliation("dataset counts vs node", len(expected) + 1)
    for table, (where, node_count) in expected.items():
        rows = warehouse.client.query(
            f"SELECT count() FROM {warehouse.qualified(table)} "
            f"WHERE chain_id = {{chain:UInt64}} AND block_number BETWEEN {{a:UInt64}} AND {{b:UInt64}} AND {where}",
            parameters={"a": first, "b": last, "chain": chain_id}).result_rows[0][0]
        if rows != node_count:
            result.mismatches.append((table, rows, node_count))
    if tables is not None and "erc1155_transfers" not in tables:
        return result
    batches = warehouse.client.query(
        f"SELECT uniqExact(block_number, log_index) FROM {warehouse.qualified('erc1155_transfers')} "
        "WHERE chain_id = {chain:UInt64} AND is_batch = 1 AND block_number BETWEEN {a:UInt64} AND {b:UInt64}",
        parameters={"a": first, "b": last, "chain": chain_id})
    if batches.result_rows[0][0] != count(TRANSFER_BATCH):
        result.mismatches.append(("erc1155_transfers batches", batches.result_rows[0][0], count(TRANSFER_BATCH)))
    return result


def v2_reserves(warehouse: ClickHouseWarehouse, rpc: JsonRpcClient, block: int,
                chain_id: int = CHAIN_ID) -> Reconciliation:
    """Each V2-style pair's last Sync up to `block` equals its getReserves() there."""
    rows = warehouse.client.query(
        f"SELECT contract_address, toString(argMax(reserve0, (block_number, log_index))), "
        "toString(argMax(reserve1, (block_number, log_index))) "
        f"FROM {warehouse.qualified(UNISWAP_V2_SYNC.dataset.table)} "
        "WHERE chain_id = {chain:UInt64} AND block_number <= {block:UInt64} GROUP BY contract_address "
        "ORDER BY contract_address", parameters={"block": block, "chain": chain_id}).result_rows
    result = Reconciliation("V2 pairs' last Sync vs getReserves", len(rows))
    for pair, reserve0, reserve1 in rows:
        answer = rpc.call("eth_call", [{"to": pair, "data": _call_data("getReserves()")}, hex(block)])
        onchain = eth_abi.decode(["uint112", "uint112", "uint32"], bytes.fromhex(answer[2:]))[:2]
        if (int(reserve0), int(reserve1)) != onchain:
            result.mismatches.append((pair, (int(reserve0), int(reserve1)), onchain))
    return result


def wavax_supply(warehouse: ClickHouseWarehouse, rpc: JsonRpcClient, block: int,
                 chain_id: int = CHAIN_ID) -> Reconciliation:
    """WAVAX deposits minus withdrawals up to `block` (every day from the chain's start loaded) equal its
    totalSupply() there."""
    def total(dataset) -> int:
        return int(warehouse.client.query(
            f"SELECT toString(sum(wad)) FROM {warehouse.qualified(dataset.table)} WHERE chain_id = {{chain:UInt64}} "
            "AND block_number <= {b:UInt64}", parameters={"b": block, "chain": chain_id}).result_rows[0][0])

    deposits, withdrawals = total(WAVAX_DEPOSIT.dataset), total(WAVAX_WITHDRAWAL.dataset)
    onchain = int(rpc.call("eth_call", [{"to": WAVAX, "data": _call_data("totalSupply()")}, hex(block)]), 16)
    result = Reconciliation("WAVAX deposits - withdrawals vs totalSupply", 1 if deposits else 0)
    if deposits - withdrawals != onchain:
        result.mismatches.append(("WAVAX", deposits, withdrawals, onchain))
    return result


def _text(answer) -> str | None:
    """name()/symbol() decoded independently of the code under test: a string, else a bytes32."""
    if isinstance(answer, CallError) or answer in (None, "0x"):
        return None
    raw = bytes.fromhex(answer[2:])
    if len(raw) == 32:
        return raw.rstrip(b"\0").decode("utf-8", errors="replace")
    return eth_abi.decode(["bytes"], raw)[0].decode("utf-8", errors="replace")


def _number(answer) -> int | None:
    return None if isinstance(answer, CallError) or answer in (None, "0x") else int(answer, 16)


def token_metadata(warehouse: ClickHouseWarehouse, rpc: JsonRpcClient, day: str,
                   chain_id: int = CHAIN_ID) -> Reconciliation:
    """Each token's row of `day` equals its contract's answers at the block the row was read at."""
    rows = warehouse.client.query(
        f"SELECT token_address, block_number, name, symbol, decimals, "
        f"if(isNull(total_supply), NULL, toString(total_supply)) FROM {warehouse.qualified('tokens')} "
        "WHERE chain_id = {chain:UInt64} AND toDate(block_timestamp) = {day:Date} ORDER BY token_address",
        parameters={"day": day, "chain": chain_id}).result_rows
    result = Reconciliation(f"token metadata of {day} vs the contracts' answers", len(rows))
    for token, block, name, symbol, decimals, supply in rows:
        calls = [Call("eth_call", [{"to": token, "data": _call_data(f)}, hex(block)])
                 for f in ("name()", "symbol()", "decimals()", "totalSupply()")]
        answers = rpc.batch(calls, allow_null=True, keep_errors=True)
        expected = (_text(answers[0]), _text(answers[1]), _number(answers[2]), _number(answers[3]))
        found = (name, symbol, decimals, None if supply is None else int(supply))
        if found != expected:
            result.mismatches.append((token, found, expected))
    return result


SUBGRAPH_SWAP_FIELDS = ("block", "pool", "x_in", "y_in", "x_out", "y_out", "fees_x", "fees_y")


def subgraph_swaps(warehouse: ClickHouseWarehouse, first: int, last: int, chain_id: int = CHAIN_ID) -> Reconciliation:
    """Swap for swap over blocks first..last: each subgraph swap (dex_swaps) is a Liquidity Book Swap event of
    the chain (lb_swap) with the same transaction and log, block, pool and amounts in and out and fees (the
    subgraph's token units turned back into base units), and each event is a subgraph swap."""
    blocks = {"a": first, "b": last, "chain": chain_id}
    subgraph = warehouse.client.query(
        "SELECT transaction_hash, log_index, block_number, pair_address, token_x_decimals, token_y_decimals, "
        "amount_x_in, amount_y_in, amount_x_out, amount_y_out, fees_token_x, fees_token_y "
        f"FROM {warehouse.qualified('dex_swaps')} WHERE chain_id = {{chain:UInt64}} AND "
        "block_number BETWEEN {a:UInt64} AND {b:UInt64}",
        parameters=blocks).result_rows
    chain = warehouse.client.query(
        "SELECT transaction_hash, log_index, block_number, contract_address, amounts_in, amounts_out, total_fees "
        f"FROM {warehouse.qualified('lb_swap')} WHERE chain_id = {{chain:UInt64}} AND "
        "block_number BETWEEN {a:UInt64} AND {b:UInt64}",
        parameters=blocks).result_rows
    found = {(tx, index): (block, pool, base_units(x_in, dx), base_units(y_in, dy), base_units(x_out, dx),
                           base_units(y_out, dy), base_units(fees_x, dx), base_units(fees_y, dy))
             for tx, index, block, pool, dx, dy, x_in, y_in, x_out, y_out, fees_x, fees_y in subgraph}
    expected = {(tx, index): (block, pool, *_unpacked(amounts_in), *_unpacked(amounts_out), *_unpacked(fees))
                for tx, index, block, pool, amounts_in, amounts_out, fees in chain}
    result = Reconciliation("subgraph swaps vs the chain's LB swaps (transaction, pool, amounts)",
                            len(found.keys() | expected.keys()))
    for key in sorted(found.keys() | expected.keys()):
        if key not in expected or key not in found:
            result.mismatches.append((*key, "not in lb_swap" if key not in expected else "not in dex_swaps"))
        elif found[key] != expected[key]:
            result.mismatches.append((*key, {name: (f, e) for name, f, e in zip(
                SUBGRAPH_SWAP_FIELDS, found[key], expected[key], strict=True) if f != e}))
    return result


def base_units(text: str | None, decimals: int | None) -> int | None:
    """A subgraph amount in token units ("1.5") in base units (1500000 for 6 decimals); None if it has more
    decimal places than the token."""
    if text is None or decimals is None:
        return None
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    if len(fraction) > decimals or not (whole + fraction).isdigit():
        return None
    return int(whole) * 10**decimals + int(fraction.ljust(decimals, "0") or "0")


def _unpacked(packed: str) -> tuple[int, int]:
    """Liquidity Book's packed amounts (token X in the low 128 bits, token Y in the high 128)."""
    value = int(packed, 16)
    return value & (2**128 - 1), value >> 128


def icm_messages(warehouse: ClickHouseWarehouse, nodes: dict[int, JsonRpcClient],
                 blocks: dict[int, int]) -> Reconciliation:
    """Every message the icm_messages view lists agrees with the messengers of the loaded chains it names (`nodes`
    by chain id), each read at `blocks[chain id]`: its id is calculateMessageID of its blockchain ids and nonce;
    the destination's messenger has received it exactly when the view has its delivery, with the view's reward
    address; the source's messenger still holds the view's fee (token and amount after additions) until the
    receipt came back, and nothing after."""
    result = warehouse.client.query(
        "SELECT message_id, source_blockchain_id, destination_blockchain_id, source_chain_id, destination_chain_id, "
        "toString(message_nonce), destination_transaction_hash IS NOT NULL, relayer_reward_address, "
        f"fee_token_address, toString(fee_amount), receipt_received FROM {warehouse.qualified('icm_messages')} "
        "ORDER BY message_id")
    checked = Reconciliation("ICM messages vs both chains' messengers", len(result.result_rows))
    for (message_id, source_id, destination_id, source, destination, nonce, delivered, reward, fee_token, fee,
         receipt) in result.result_rows:
        if source_id and destination_id and _message_id(source_id, destination_id, int(nonce)) != message_id:
            checked.mismatches.append((message_id, "id", "calculateMessageID", source_id, destination_id, nonce))
        if destination in nodes:
            at = hex(blocks[destination])
            received = _messenger(nodes[destination], at, "messageReceived(bytes32)", message_id)[-1] == 1
            node_reward = ("0x" + _messenger(nodes[destination], at, "getRelayerRewardAddress(bytes32)",
                                             message_id)[-20:].hex()) if received else None
            if (received, node_reward) != (delivered, reward if delivered else None):
                checked.mismatches.append((message_id, "delivery", (delivered, reward), (received, node_reward)))
        if source in nodes and fee_token is not None:  # the send is loaded
            held = _messenger(nodes[source], hex(blocks[source]), "getFeeInfo(bytes32)", message_id)
            node_fee = ("0x" + held[12:32].hex(), int.from_bytes(held[32:], "big"))
            view_fee = (ZERO_ADDRESS, 0) if receipt else (fee_token, int(fee))
            if node_fee != view_fee:
                checked.mismatches.append((message_id, "fee held", view_fee, node_fee))
    return checked


def _message_id(source: str, destination: str, nonce: int) -> str:
    return "0x" + keccak(eth_abi.encode(["address", "bytes32", "bytes32", "uint256"], [
        TELEPORTER_MESSENGER, bytes.fromhex(source[2:]), bytes.fromhex(destination[2:]), nonce])).hex()


def _messenger(rpc: JsonRpcClient, block: str, signature: str, message_id: str) -> bytes:
    answer = rpc.call("eth_call", [{"to": TELEPORTER_MESSENGER, "data": _call_data(signature, message_id)}, block])
    return bytes.fromhex(answer[2:])
