"""Every column says what it holds, and every amount says its unit (the UI's column descriptions)."""

from avax_assets.catalogue import DATASETS
from avax_assets.core.vocabulary import UNITS, VOCABULARY

# UInt256 identifiers, counters, signature parts
NOT_AMOUNTS = {"token_id", "message_nonce", "message_message_nonce", "difficulty", "r", "s"}


def test_every_column_of_every_dataset_has_a_meaning():
    missing = [f"{d.name}.{c.name}" for d in DATASETS.values() for c in d.columns if not c.meaning.strip()]
    assert missing == []


def test_every_amount_says_its_unit():
    amounts = [(d.name, c) for d in DATASETS.values() for c in d.columns
               if c.type.clickhouse == "UInt256" and c.name not in NOT_AMOUNTS]
    assert len(amounts) > 20
    assert [f"{name}.{c.name}: {c.meaning}" for name, c in amounts if not any(u in c.meaning for u in UNITS)] == []


def test_the_vocabulary_names_only_columns_that_exist():
    used = {c.name for d in DATASETS.values() for c in d.columns}
    assert sorted(set(VOCABULARY) - used) == []
