"""Decode datasets from the stored `logs` partition: each `LogEvent` is a dataset, the event signatures
it matches and a function from one matching log to its rows.

A log is decoded only if it has exactly the shape its standard requires; anything else with a
transfer signature is reported as malformed (never dropped silently, never mis-decoded):

  ERC-20   Transfer(address indexed from, address indexed to, uint256 value)        3 topics, 32-byte data
  ERC-721  Transfer(address indexed from, address indexed to, uint256 indexed id)   4 topics, empty data
  ERC-1155 TransferSingle(operator, from, to indexed; id, value)                    4 topics, 64-byte data
           TransferBatch(operator, from, to indexed; uint256[] ids, uint256[] values)  4 topics, ABI arrays

ERC-20 and ERC-721 share the Transfer signature: a 4-topic Transfer belongs to ERC-721, any other
topic count to ERC-20 (split in bulk before any log is decoded), so each malformed log is reported by
exactly one of the two.
"""

from __future__ import annotations


import pyarrow as pa
import pyarrow.compute as pc

from avax_assets.chain.logs import LogEvent
from avax_assets.chain.words import WORD, StaticField, StaticLayout
from avax_assets.core.errors import NotDecodable
from avax_assets.tokens.datasets import ERC20_TRANSFERS, ERC721_TRANSFERS, ERC1155_TRANSFERS

TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
TRANSFER_SINGLE = "0xc3d58168c5ae7397731d063d5bbf3d657854427343f4c083240f7aacaa2d0f62"
TRANSFER_BATCH = "0x4a39dc06d4c0dbc64b70af90fd698a233a518aa5d07e595d983b8c0526c8f7fb"
MAX_BATCH = 10_000


def topic_count(log: dict) -> int:
    return sum(1 for t in ("topic0", "topic1", "topic2", "topic3") if log[t] is not None)


def topic_address(topic: str, name: str) -> str:
    if topic[2:26] != "0" * 24:
        raise NotDecodable(f"{name} topic is not an address: {topic}")
    return "0x" + topic[26:]


def data_words(data: str) -> list[str]:
    body = data[2:]
    if len(body) % WORD:
        raise NotDecodable(f"data is not whole 32-byte words ({len(body) // 2} bytes)")
    return [body[i:i + WORD] for i in range(0, len(body), WORD)]


def log_position(log: dict) -> dict:
    """The LOG_POSITION columns of a decoded row."""
    return {
        "block_number": log["block_number"], "block_timestamp": log["block_timestamp"],
        "block_hash": log["block_hash"], "transaction_hash": log["transaction_hash"],
        "transaction_index": log["transaction_index"], "log_index": log["log_index"], "token_address": log["address"],
    }


def _erc20(log: dict) -> list[dict]:
    topics = topic_count(log)
    if topics == 4:
        return []  # ERC-721's
    if topics != 3:
        raise NotDecodable(f"Transfer with {topics} topics fits neither ERC-20 (3) nor ERC-721 (4)")
    words = data_words(log["data"])
    if len(words) != 1:
        raise NotDecodable(f"ERC-20 Transfer data must be one 32-byte word, got {len(words)}")
    return [{**log_position(log), "from_address": topic_address(log["topic1"], "from"),
             "to_address": topic_address(log["topic2"], "to"), "value": str(int(words[0], 16))}]


def _erc721(log: dict) -> list[dict]:
    if topic_count(log) != 4:
        return []  # ERC-20's
    if log["data"] != "0x":
        raise NotDecodable(f"4-topic Transfer carries {(len(log['data']) - 2) // 2} bytes of data (ERC-20/721 clash)")
    return [{**log_position(log), "from_address": topic_address(log["topic1"], "from"),
             "to_address": topic_address(log["topic2"], "to"), "token_id": str(int(log["topic3"], 16))}]


def _erc1155(log: dict) -> list[dict]:
    if topic_count(log) != 4:
        raise NotDecodable(f"ERC-1155 event with {topic_count(log)} topics, expected 4")
    head = {**log_position(log), "operator": topic_address(log["topic1"], "operator"),
            "from_address": topic_address(log["topic2"], "from"), "to_address": topic_address(log["topic3"], "to")}
    words = data_words(log["data"])
    if log["topic0"] == TRANSFER_SINGLE:
        if len(words) != 2:
            raise NotDecodable(f"TransferSingle data must be 2 words, got {len(words)}")
        return [{**head, "token_id": str(int(words[0], 16)), "value": str(int(words[1], 16)),
                 "batch_index": 0, "is_batch": 0}]
    ids, values = _uint_array(words, 0), _uint_array(words, 1)
    if len(ids) != len(values):
        raise NotDecodable(f"TransferBatch has {len(ids)} ids but {len(values)} values")
    return [{**head, "token_id": str(i), "value": str(v), "batch_index": n, "is_batch": 1}
            for n, (i, v) in enumerate(zip(ids, values, strict=True))]


def _uint_array(words: list[str], slot: int) -> list[int]:
    """A dynamic uint256[] argument: head word `slot` holds the byte offset of (length, items…)."""
    if len(words) < 2:
        raise NotDecodable("TransferBatch data shorter than its two array offsets")
    offset = int(words[slot], 16)
    if offset % 32 or offset // 32 >= len(words):
        raise NotDecodable(f"TransferBatch array offset {offset} out of range")
    start = offset // 32
    length = int(words[start], 16)
    if length > MAX_BATCH or start + 1 + length > len(words):
        raise NotDecodable(f"TransferBatch array length {length} runs past the data")
    return [int(w, 16) for w in words[start + 1:start + 1 + length]]


def _four_topics(logs: pa.RecordBatch) -> pa.Array:
    return pc.is_valid(logs.column("topic3"))


# the one-word shapes, decoded in bulk (the functions above: the logs that do not fit, for their reason)
FROM_TO = (StaticField("from_address", "address", topic="topic1"), StaticField("to_address", "address", topic="topic2"))
ERC20_LAYOUT = StaticLayout(topics=2, words=1, fields=(*FROM_TO, StaticField("value", "uint256", data_word=0)))
ERC721_LAYOUT = StaticLayout(topics=3, words=0, fields=(*FROM_TO, StaticField("token_id", "uint256", topic="topic3")))

EVENTS = (
    LogEvent(ERC20_TRANSFERS, (TRANSFER,), _erc20, also=lambda logs: pc.invert(_four_topics(logs)),
             layout=ERC20_LAYOUT, emitter_column="token_address"),
    LogEvent(ERC721_TRANSFERS, (TRANSFER,), _erc721, also=_four_topics, layout=ERC721_LAYOUT,
             emitter_column="token_address"),
    LogEvent(ERC1155_TRANSFERS, (TRANSFER_SINGLE, TRANSFER_BATCH), _erc1155, emitter_column="token_address"),
)
