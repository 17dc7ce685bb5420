"""ABI events as datasets: columns from the ABI types, exact values (above 2^128, negative int256), and
every log that does not fit the ABI counted, never mis-decoded."""

import json

import eth_abi
import pyarrow as pa
import pytest

from avax_assets.chain.calls import Outcome, revert_reason, text_return, uint_return
from avax_assets.chain.datasets import LOGS
from avax_assets.chain.rpc import CallError
from avax_assets.core.schema import BOOL, HEX, I32, I256, TEXT, U32, U64, U256
from avax_assets.events.assets import event_log_decoder
from avax_assets.events.datasets import (EVENTS, LB_SWAP, TELEPORTER_EVENTS, UNISWAP_V2_SWAP, UNISWAP_V3_SWAP, WAVAX,
                                         WAVAX_DEPOSIT, EVENT_POSITION, declare)
from avax_assets.tokens.metadata import token_row

ALICE, BOB, POOL = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40
EVENT_COLUMNS = {"chain_id", *(c.name for c in EVENT_POSITION)}


def topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


def log(topics: list[str], data: bytes | str, index: int = 0, address: str = POOL) -> dict:
    padded = topics + [None] * (4 - len(topics))
    return {"block_number": 7, "block_timestamp": 1717300000, "block_hash": "0x" + "1" * 64,
            "transaction_hash": "0x" + "2" * 64, "transaction_index": 0, "log_index": index, "address": address,
            "topic0": padded[0], "topic1": padded[1], "topic2": padded[2], "topic3": padded[3],
            "data": data if isinstance(data, str) else "0x" + data.hex()}


def decoded(event, *logs):
    """The logs decoded by the same LogEvent the event's asset runs."""
    return event_log_decoder(event)(pa.RecordBatch.from_pylist(list(logs), schema=LOGS.arrow_schema))


def test_topic0_and_signatures_are_the_real_ones():
    assert {e.dataset.name: e.topic0 for e in EVENTS if e not in TELEPORTER_EVENTS} == {
        "lb_swap": "0xad7d6f97abf51ce18e17a38f4d70e975be9c0708474987bb3e26ad21bd93ca70",
        "uniswap_v2_swap": "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822",
        "uniswap_v2_sync": "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1",
        "uniswap_v3_swap": "0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67",
        "wavax_deposit": "0xe1fffcc4923d04b559f4d29a8bfc6cda04eb5b0d3c460751c2402c5c5cc9109c",
        "wavax_withdrawal": "0x7fcf532c15f0a6db0bd6d0e038bea71d30d808c7d98cb3bf7268a95bf5081b65",
    }
    assert {e.dataset.topic for e in EVENTS} == {f"avalanche.events.{e.dataset.name}.43114" for e in EVENTS}


def test_columns_follow_the_abi_types():
    types = {c.name: c.type for c in UNISWAP_V3_SWAP.dataset.columns}
    assert (types["sender"], types["recipient"], types["amount0"], types["sqrt_price_x96"], types["tick"]) == \
        (HEX, HEX, I256, U256, I32)
    assert {c.name: c.type for c in LB_SWAP.dataset.columns}["id"] is U32
    assert [c.name for c in UNISWAP_V2_SWAP.dataset.columns][-6:] == [
        "sender", "amount0_in", "amount1_in", "amount0_out", "amount1_out", "to_address"]
    assert {c.name: c.clickhouse_type for c in UNISWAP_V3_SWAP.dataset.columns}["amount0"] == "Int256"


def test_v3_swap_is_exact_above_2_to_the_128_and_negative():
    amount0, amount1, price, liquidity = -(2**200) - 3, 2**130 + 1, 2**159 + 5, 2**127 + 9
    data = eth_abi.encode(["int256", "int256", "uint160", "uint128", "int24"],
                          [amount0, amount1, price, liquidity, -887])
    result = decoded(UNISWAP_V3_SWAP, log([UNISWAP_V3_SWAP.topic0, topic(ALICE), topic(BOB)], data))
    assert result.malformed == []
    row = result.batch.to_pylist()[0]
    assert (row["sender"], row["recipient"], row["amount0"], row["amount1"], row["sqrt_price_x96"],
            row["liquidity"], row["tick"], row["contract_address"]) == \
        (ALICE, BOB, str(amount0), str(amount1), str(price), str(liquidity), -887, POOL)


def test_lb_swap_keeps_packed_amounts_as_hex():
    packed_in = (2**128 - 1) | (7 << 128)
    data = eth_abi.encode(["uint24", "bytes32", "bytes32", "uint24", "bytes32", "bytes32"],
                          [8388608, packed_in.to_bytes(32, "big"), b"\0" * 32, 5, b"\1" * 32, b"\0" * 32])
    row = decoded(LB_SWAP, log([LB_SWAP.topic0, topic(ALICE), topic(BOB)], data)).batch.to_pylist()[0]
    assert row["id"] == 8388608 and row["amounts_in"] == "0x" + format(packed_in, "064x")
    assert row["to_address"] == BOB and row["total_fees"] == "0x" + "01" * 32


def test_only_the_declared_contracts_are_decoded():
    data = eth_abi.encode(["uint256"], [10**18])
    other = log([WAVAX_DEPOSIT.topic0, topic(ALICE)], data, index=0, address=POOL)  # a vault's Deposit(address,uint256)
    wavax = log([WAVAX_DEPOSIT.topic0, topic(ALICE)], data, index=1, address=WAVAX)
    result = decoded(WAVAX_DEPOSIT, other, wavax)
    assert result.batch.column("log_index").to_pylist() == [1] and result.malformed == []


V2_DATA = eth_abi.encode(["uint256"] * 4, [1, 0, 0, 2])


@pytest.mark.parametrize("bad, reason", [
    (log([UNISWAP_V2_SWAP.topic0, topic(ALICE)], V2_DATA, 3), "needs 3 topics"),
    (log([UNISWAP_V2_SWAP.topic0, topic(ALICE), topic(BOB)], V2_DATA[:-1], 3), "needs 128"),
    (log([UNISWAP_V2_SWAP.topic0, topic(ALICE), topic(BOB)], V2_DATA + b"\0" * 32, 3), "needs 128"),
    (log([UNISWAP_V2_SWAP.topic0, "0x" + "f" * 64, topic(BOB)], V2_DATA, 3), "not an address"),
    (log([UNISWAP_V2_SWAP.topic0, topic(ALICE), topic(BOB)], "0x" + "zz" * 128, 3), "not hex"),
])
def test_a_log_that_does_not_fit_the_abi_is_counted_not_decoded(bad, reason):
    good = log([UNISWAP_V2_SWAP.topic0, topic(ALICE), topic(BOB)], V2_DATA, 1)
    result = decoded(UNISWAP_V2_SWAP, good, bad)
    assert result.batch.column("log_index").to_pylist() == [1]
    assert [(m.log_index, reason in m.reason) for m in result.malformed] == [(3, True)], result.malformed


def test_a_narrow_int_must_be_sign_extended():
    data = eth_abi.encode(["int256", "int256", "uint160", "uint128"], [1, -1, 1, 1]) + (2**30).to_bytes(32, "big")
    result = decoded(UNISWAP_V3_SWAP, log([UNISWAP_V3_SWAP.topic0, topic(ALICE), topic(BOB)], data))
    assert result.batch.num_rows == 0 and "not a sign-extended int24" in result.malformed[0].reason


def test_a_narrow_uint_must_fit_its_bits():
    data = eth_abi.encode(["uint24", "bytes32", "bytes32", "uint24", "bytes32", "bytes32"],
                          [1, b"\0" * 32, b"\0" * 32, 1, b"\0" * 32, b"\0" * 32])
    data = (2**24).to_bytes(32, "big") + data[32:]
    result = decoded(LB_SWAP, log([LB_SWAP.topic0, topic(ALICE), topic(BOB)], data))
    assert result.batch.num_rows == 0 and "does not fit uint24" in result.malformed[0].reason


def test_an_event_with_dynamic_types_from_an_abi_file(tmp_path, monkeypatch):
    """One ABI file and one declaration: strings (invalid UTF-8 replaced), bytes, arrays as canonical JSON with
    exact integers, a struct flattened into typed columns (a nested struct too, an array of structs as JSON), an
    indexed string and an indexed struct as their hashes."""
    fill = {"name": "fills", "type": "tuple[]", "components": [{"name": "qty", "type": "uint256"},
                                                               {"name": "by", "type": "address"}]}
    abi = [{"type": "event", "name": "Listed", "anonymous": False, "inputs": [
        {"name": "seller", "type": "address", "indexed": True},
        {"name": "tag", "type": "string", "indexed": True},
        {"name": "key", "type": "tuple", "indexed": True, "components": [{"name": "id", "type": "uint8"}]},
        {"name": "title", "type": "string", "indexed": False},
        {"name": "payload", "type": "bytes", "indexed": False},
        {"name": "prices", "type": "uint256[]", "indexed": False},
        {"name": "order", "type": "tuple", "indexed": False, "components": [
            {"name": "maker", "type": "address"}, {"name": "amount", "type": "int256"},
            {"name": "terms", "type": "tuple", "components": [{"name": "ok", "type": "bool"},
                                                              {"name": "deadline", "type": "uint64"}]}, fill]},
        {"name": "active", "type": "bool", "indexed": False}]}]
    (tmp_path / "market.json").write_text(json.dumps(abi))
    monkeypatch.setattr("avax_assets.events.datasets.ABIS", tmp_path)
    event = declare("market_listed", "market.json", "Listed", "Listings.",
                    columns={"prices": "prices, token base units", "order_amount": "amount, token base units"})
    assert event.abi_event.signature == \
        "Listed(address,string,(uint8),string,bytes,uint256[],(address,int256,(bool,uint64),(uint256,address)[]),bool)"
    types = {c.name: c.type for c in event.dataset.columns}
    assert [c for c in types if c not in EVENT_COLUMNS] == [
        "seller", "tag", "key", "title", "payload", "prices", "order_maker", "order_amount", "order_terms_ok",
        "order_terms_deadline", "order_fills", "active"]
    assert (types["tag"], types["key"], types["title"], types["payload"], types["prices"], types["order_amount"],
            types["order_terms_ok"], types["order_terms_deadline"], types["order_fills"], types["active"]) == \
        (HEX, HEX, TEXT, HEX, TEXT, I256, BOOL, U64, TEXT, BOOL)
    assert "component `order.terms.deadline`" in event.dataset.column("order_terms_deadline").description
    data = eth_abi.encode(["bytes", "bytes", "uint256[]", "(address,int256,(bool,uint64),(uint256,address)[])", "bool"],
                          [b"caf\xc3\xa9 \xff", b"\x01\x02", [2**255, 1],
                           (BOB, -(2**200), (True, 2**64 - 1), [(2**255, ALICE)]), False])
    tag_hash, key_hash = "0x" + "ab" * 32, "0x" + "cd" * 32
    result = decoded(event, log([event.topic0, topic(ALICE), tag_hash, key_hash], data))
    assert result.malformed == []
    row = result.batch.to_pylist()[0]
    assert row["title"] == "café \ufffd" and row["payload"] == "0x0102" and row["tag"] == tag_hash
    assert row["key"] == key_hash
    assert json.loads(row["prices"]) == [str(2**255), "1"] and row["active"] is False
    assert (row["order_maker"], row["order_amount"], row["order_terms_ok"], row["order_terms_deadline"]) == \
        (BOB, str(-(2**200)), True, 2**64 - 1)
    assert row["order_fills"] == json.dumps([{"qty": str(2**255), "by": ALICE}], separators=(",", ":"))
    truncated = decoded(event, log([event.topic0, topic(ALICE), tag_hash, key_hash], data[:-40]))
    assert truncated.batch.num_rows == 0 and "does not decode" in truncated.malformed[0].reason


def test_a_struct_component_whose_column_another_argument_has_is_refused(tmp_path, monkeypatch):
    abi = [{"type": "event", "name": "Clash", "anonymous": False, "inputs": [
        {"name": "fee", "type": "tuple", "indexed": False, "components": [{"name": "amount", "type": "uint256"}]},
        {"name": "feeAmount", "type": "uint256", "indexed": False}]}]
    (tmp_path / "clash.json").write_text(json.dumps(abi))
    monkeypatch.setattr("avax_assets.events.datasets.ABIS", tmp_path)
    with pytest.raises(ValueError, match=r"two columns one name: \['fee_amount'\]"):
        declare("clash", "clash.json", "Clash", "Clashes.")


def abi_string(text: bytes) -> Outcome:
    return Outcome(eth_abi.encode(["bytes"], [text]))


@pytest.mark.parametrize("outcome, value, reason", [
    (abi_string(b"USD Coin"), "USD Coin", None),
    (Outcome(b"MKR".ljust(32, b"\0")), "MKR", None),  # bytes32, as MKR's symbol()
    (abi_string(b"Odd\xffToken"), "Odd\ufffdToken", "raw 0x4f6464ff546f6b656e"),
    (Outcome(b"\x01" * 7), None, "neither a string nor a bytes32"),
    (Outcome(None, "reverted: nope"), None, "reverted: nope"),
    # a real token's name(): "ETH" then NULs as a string return; joins on symbol 'ETH' must match
    (abi_string(b"ETH\0\0\0"), "ETH", "trailing NULs stripped (raw 0x455448000000)"),
    (abi_string(b"Bell\x07Token"), "Bell\x07Token", "holds control characters, kept (raw 0x42656c6c07546f6b656e)"),
])
def test_token_text_returns(outcome, value, reason):
    found, why = text_return(outcome)
    assert found == value and (reason is None and why is None or reason in why)


def test_a_token_row_names_why_each_missing_field_is_missing():
    at = {"block_number": 9, "block_timestamp": 1717300000, "block_hash": "0x" + "1" * 64}
    outcomes = [abi_string(b"Dev Maker"), Outcome(b"DMKR".ljust(32, b"\0")), Outcome(None, "reverted without a reason"),
                Outcome((2**255).to_bytes(32, "big"))]
    row = token_row("0x" + "d" * 40, outcomes, at, ["erc20_transfers"])
    assert ((row["name"], row["symbol"], row["decimals"], row["total_supply"])
            == ("Dev Maker", "DMKR", None, str(2**255)))
    assert json.loads(row["metadata_errors"]) == {"decimals": "reverted without a reason"}
    too_many = token_row("0x" + "d" * 40, outcomes[:2] + [Outcome((256).to_bytes(32, "big")), outcomes[3]], at, [])
    assert too_many["decimals"] is None and "more than 255" in json.loads(too_many["metadata_errors"])["decimals"]
    assert uint_return(Outcome(b"\0" * 64)) == (None, "returned 64 bytes, not one 32-byte word")


def test_a_revert_reason_is_read_from_error_string_data():
    reason = "0x08c379a0" + eth_abi.encode(["string"], ["supply is not tracked"]).hex()
    assert revert_reason(CallError(3, "execution reverted", reason)) == "reverted: supply is not tracked"
    assert "no such method" in revert_reason(CallError(3, "execution reverted", None))


def test_a_node_without_the_blocks_state_is_named_not_taken_for_a_revert():
    from avax_assets.chain.calls import ContractCall, _outcome
    from avax_assets.core.errors import RpcError, SourceRefused

    call = ContractCall(ALICE, "symbol()")
    with pytest.raises(SourceRefused, match="archive node"):
        _outcome(call, CallError(-32000, "missing trie node 1f2e… (path )"))
    with pytest.raises(RpcError):
        _outcome(call, CallError(-32005, "limit exceeded"))
    assert _outcome(call, "0x").returned is None and "no such method" in _outcome(call, "0x").reason
