"""Logs decoded in bulk (chain/words.py) give exactly what the one-by-one decoders give: the same rows in the
same order and the same malformed logs with the same reasons, for every event with a static layout, over
logs that fit and logs that break each rule (topics, data length, each word's padding, lower-case hex)."""

from __future__ import annotations

import dataclasses
import random

import pyarrow as pa
import pytest

from avax_assets.chain.datasets import LOGS
from avax_assets.chain.logs import LogEvent
from avax_assets.chain.words import FIXED_BYTES, HASHED, TOPICS, StaticLayout, integer_type
from avax_assets.events.assets import event_log_decoder
from avax_assets.events.datasets import EVENTS as ABI_EVENTS
from avax_assets.tokens.decode import EVENTS as TOKEN_EVENTS

LOGS_PER_EVENT = 400
BULK_EVENTS = [e for e in (*TOKEN_EVENTS, *(event_log_decoder(e) for e in ABI_EVENTS)) if e.layout]


def test_the_standard_shapes_and_every_one_word_abi_event_are_decoded_in_bulk():
    names = {e.dataset.name for e in BULK_EVENTS}
    assert {"erc20_transfers", "erc721_transfers", "uniswap_v2_swap", "uniswap_v2_sync", "uniswap_v3_swap",
            "lb_swap", "wavax_deposit", "teleporter_message_executed"} <= names
    assert "teleporter_send_cross_chain_message" not in names  # a tuple with dynamic members: one by one


def word(rng: random.Random, type_: str, broken: bool) -> str:
    """A 64-hex-digit word of `type_`, padded as the type requires, or (`broken`) not, where it can be."""
    if type_ == HASHED:
        return f"{rng.getrandbits(256):064x}"
    if type_ == "address":
        return ("1" if broken else "0") + "0" * 23 + f"{rng.getrandbits(160):040x}"
    if type_ == "bool":
        return "0" * 63 + ("2" if broken else rng.choice("01"))
    fixed = FIXED_BYTES.match(type_)
    if fixed:
        size = int(fixed.group(1))
        padding = "0" * (64 - 2 * size)
        return f"{rng.getrandbits(8 * size):0{2 * size}x}" + (padding[:-1] + "1" if broken and padding else padding)
    unsigned, bits = integer_type(type_)
    if broken and bits < 256:
        return ("1" + "0" * 63) if unsigned else "0" * ((256 - bits) // 4) + "8" + "0" * (bits // 4 - 1)
    if unsigned:
        return f"{rng.getrandbits(bits):064x}"
    value = rng.randrange(-(1 << (bits - 1)), 1 << (bits - 1))
    return f"{value % (1 << 256):064x}"


def log_of(rng: random.Random, event: LogEvent, n: int) -> dict:
    layout: StaticLayout = event.layout
    flaw = rng.choice(["none"] * 6 + ["topics", "data", "word", "not lower-case hex"])
    broken_field = rng.choice(layout.fields).column if flaw == "word" else None
    topics = {t: None for t in TOPICS}
    data = [""] * layout.words
    for field in layout.fields:
        value = word(rng, field.type, field.column == broken_field)
        if field.topic:
            topics[field.topic] = "0x" + value
        else:
            data[field.data_word] = value
    if flaw == "topics":
        count = rng.choice([c for c in range(4) if c != layout.topics])
        topics = {t: topics[t] or "0x" + f"{rng.getrandbits(256):064x}" if i < count else None
                  for i, t in enumerate(TOPICS)}
    if flaw == "data":
        data.append(rng.choice(["00", "ab" * 32]))
    if flaw == "not lower-case hex":  # never stored; upper case decodes one by one, 'z' is not hex
        data = [w[:-1] + rng.choice("Az") for w in data] or data
        topics = {t: v and v[:-1] + rng.choice("Az") for t, v in topics.items()} if not layout.words else topics
    if event.also and topics["topic3"] is None and event.dataset.name == "erc721_transfers":
        topics["topic3"] = "0x" + "0" * 64  # ERC-721 only sees four-topic Transfers
    return {"chain_id": 43114, "block_number": 1000 + n // 7, "block_timestamp": 1_717_000_000 + n // 7,
            "block_hash": f"0x{n // 7:064x}", "transaction_hash": f"0x{n // 3:064x}", "transaction_index": n // 3 % 7,
            "log_index": n, "address": event.addresses[0] if event.addresses else f"0x{rng.getrandbits(160):040x}",
            "topic0": event.signatures[0], **topics, "data": "0x" + "".join(data)}


@pytest.mark.parametrize("event", BULK_EVENTS, ids=lambda e: e.dataset.name)
def test_bulk_decoding_gives_what_decoding_one_by_one_gives(event):
    rng = random.Random(event.dataset.name)
    logs = pa.RecordBatch.from_pylist([log_of(rng, event, n) for n in range(LOGS_PER_EVENT)], schema=LOGS.arrow_schema)
    in_bulk, one_by_one = event(logs), dataclasses.replace(event, layout=None)(logs)
    assert one_by_one.batch.num_rows > LOGS_PER_EVENT // 2 and len(one_by_one.malformed) > 10  # both kinds tried
    assert in_bulk.batch.equals(one_by_one.batch)
    assert in_bulk.malformed == one_by_one.malformed


def test_the_probe_wants_a_row_group_only_with_a_log_of_the_event_from_its_emitters():
    wavax = next(e for e in BULK_EVENTS if e.dataset.name == "wavax_deposit")
    columns, wants = wavax.probe
    assert columns == ["topic0", "address"]
    rng = random.Random(0)
    logs = pa.Table.from_batches([pa.RecordBatch.from_pylist([log_of(rng, wavax, n) for n in range(3)],
                                                             schema=LOGS.arrow_schema)]).select(columns)
    assert wants(logs)
    assert not wants(logs.set_column(1, "address", pa.array(["0x" + "00" * 20] * 3)))  # another emitter's
    assert not wants(logs.set_column(0, "topic0", pa.array(["0x" + "00" * 32] * 3)))
