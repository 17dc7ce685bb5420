"""The live path's pure parts: the Kafka JSON back to exact rows, a step's manifest, inserts cut at blocks."""

import datetime as dt

import pyarrow as pa

from avax_assets.chain.datasets import BLOCKS
from avax_assets.core.clickhouse import _whole_blocks
from avax_assets.core.kafka import decode_values, encode_batch
from avax_assets.live.stream import block_of, decode_manifest, encode_manifest, manifest_of
from avax_assets.tokens.datasets import ERC20_TRANSFERS


def transfers(blocks: list[int]) -> pa.RecordBatch:
    """ERC-20 transfer rows in `blocks`, amounts near 2**256, every other column a plausible value."""
    def value(field: pa.Field, i: int, block: int):
        if field.name == "block_number":
            return block
        if field.name == "value":
            return str(2**256 - 1 - i)
        if pa.types.is_timestamp(field.type):
            return dt.datetime.fromtimestamp(1719792000 + block, dt.timezone.utc)
        if pa.types.is_integer(field.type):
            return i
        return f"0x{i:040x}"

    schema = ERC20_TRANSFERS.arrow_schema
    return pa.RecordBatch.from_pylist([{f.name: value(f, i, b) for f in schema} for i, b in enumerate(blocks)],
                                      schema=schema)


def test_kafka_values_come_back_exactly():
    batch = transfers([7, 7, 8])
    keys, values = encode_batch(ERC20_TRANSFERS, batch)
    back = decode_values(ERC20_TRANSFERS, values)
    assert back.equals(ERC20_TRANSFERS.stamped(batch))  # every row says its chain
    assert back.column("value")[0].as_py() == str(2**256 - 1)
    assert [block_of(v).block_number for v in values] == [7, 7, 8]


def test_a_manifest_counts_each_datasets_rows_per_block():
    headers = pa.RecordBatch.from_pylist(
        [{"block_number": 7, "block_timestamp": dt.datetime(2024, 7, 1, tzinfo=dt.timezone.utc),
          "block_hash": "0x" + "01" * 32},
         {"block_number": 8, "block_timestamp": dt.datetime(2024, 7, 1, 0, 0, 2, tzinfo=dt.timezone.utc),
          "block_hash": "0x" + "02" * 32}],
        schema=pa.schema([("block_number", pa.uint64()), ("block_timestamp", pa.timestamp("s", tz="UTC")),
                          ("block_hash", pa.string())]))
    manifest = manifest_of([(BLOCKS, headers), (ERC20_TRANSFERS, transfers([7, 7]))], range(7, 9), 9, 1.0)
    back = decode_manifest(encode_manifest(manifest))
    assert (back.first_block, back.last_block, back.last_hash) == (7, 8, "0x" + "02" * 32)
    assert back.newest_timestamp == 1719792002
    assert back.rows_of("erc20_transfers", 7) == 2 and back.rows_of("erc20_transfers", 8) == 0


def test_inserts_are_cut_at_block_boundaries_only():
    blocks = [1] * 3 + [2] * 5 + [3] + [4] * 4
    batch = pa.RecordBatch.from_pydict({"block_number": pa.array(blocks, pa.uint64())})
    pieces = [p.column("block_number").to_pylist() for p in _whole_blocks(batch, 4)]
    assert sum(pieces, []) == blocks
    assert all(len(set(p) & set(q)) == 0 for p, q in zip(pieces, pieces[1:], strict=False))  # no block in two pieces
    assert pieces == [[1, 1, 1], [2] * 5, [3], [4] * 4]


def test_a_field_the_node_adds_is_warned_of_on_the_live_path_once(caplog):
    """The live step extracts by the chain family's code: a key no declaration knows is named, not dropped."""
    from avax_assets.live.follower import extract_step
    from avax_assets.live.stream import LiveChain
    from avax_assets_tests.chain.test_proof import FIRST, Chain, PlainWhereUnknownReader

    chain = Chain()
    chain.blocks[FIRST + 1]["liveOnlyKey"] = "0x1"
    reader = PlainWhereUnknownReader(chain)
    with caplog.at_level("WARNING", logger="avax_assets.live.follower"):
        extract_step(reader, chain.chunk, LiveChain(43114))
        extract_step(reader, chain.chunk, LiveChain(43114))
    said = [r.getMessage() for r in caplog.records if "liveOnlyKey" in r.getMessage()]
    assert len(said) == 1 and "block.liveOnlyKey" in said[0] and "add them to the declarations" in said[0]
