"""Delivery order and repeats, on the real local S3 server and broker: Kafka never holds a partition the
lake does not, a repeat of unchanged content publishes nothing, and changed content is republished whole."""

import tempfile
import uuid

import pytest

from avax_assets.chain.datasets import BLOCKS
from avax_assets.core.delivery import deliver
from avax_assets.core.errors import SettingError
from avax_assets.core.kafka import KafkaPublisher
from avax_assets.core.lake import Lake
from avax_assets.core.lake import S3Settings
from avax_assets_tests.core.test_lake import sample_batch, spool
from avax_assets_tests.support import kafka_messages_of_run

PARTITION = "2024-05-20"  # a day no other test stores


@pytest.fixture(autouse=True)
def spools_in_the_tests_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@pytest.fixture
def publisher(pipeline_env):
    return KafkaPublisher({"bootstrap.servers": pipeline_env["AVAX_KAFKA_BOOTSTRAP_SERVERS"]})


@pytest.fixture
def fresh_lake(stack):
    creds = stack.s3.credentials()
    return Lake(f"s3://avax-delivery-{uuid.uuid4().hex[:8]}",
                S3Settings(stack.s3.endpoint, creds["access_key_id"], creds["secret_access_key"]))


def run_id() -> str:
    return f"test-{uuid.uuid4().hex}"


def messages(pipeline_env, run: str) -> list:
    return kafka_messages_of_run(pipeline_env["AVAX_KAFKA_BOOTSTRAP_SERVERS"], BLOCKS.topic, run)


def test_unchanged_content_is_published_once_and_changed_content_again_whole(fresh_lake, publisher, pipeline_env):
    first, again, changed = run_id(), run_id(), run_id()
    assert deliver(fresh_lake, publisher, spool([sample_batch(5)], PARTITION), first).messages == 5
    repeat = deliver(fresh_lake, publisher, spool([sample_batch(5)], PARTITION), again)
    assert (repeat.messages, repeat.unchanged_since) == (0, first)
    assert deliver(fresh_lake, publisher, spool([sample_batch(6)], PARTITION), changed).messages == 6
    assert [len(messages(pipeline_env, run)) for run in (first, again, changed)] == [5, 0, 6]
    assert fresh_lake.published(BLOCKS.lake_folder, PARTITION)["run_id"] == changed


def test_nothing_is_published_when_the_lake_refuses_the_object(stack, publisher, pipeline_env):
    creds = stack.s3.credentials()
    refusing = Lake("s3://avax-delivery-refused", S3Settings(stack.s3.endpoint, creds["access_key_id"], "wrong"))
    run = run_id()
    with pytest.raises(SettingError,
                       match="refused to store blocks/chain_id=43114 partition 2024-05-20.*AVAX_S3_SECRET_ACCESS_KEY"):
        deliver(refusing, publisher, spool([sample_batch(4)], PARTITION), run)
    assert messages(pipeline_env, run) == []


class Failing:
    """Batches that break after the first: a publish that fails half-way."""

    def __iter__(self):
        yield sample_batch(3)
        raise RuntimeError("the spool could not be read")


def test_a_publish_that_fails_half_way_is_not_recorded_so_the_next_run_publishes_whole(fresh_lake, publisher,
                                                                                       pipeline_env, monkeypatch):
    spooled = spool([sample_batch(3)], PARTITION)
    with monkeypatch.context() as patched, pytest.raises(RuntimeError, match="could not be read"):
        patched.setattr(type(spooled), "iter_batches", lambda self, *a: Failing())
        deliver(fresh_lake, publisher, spooled, run_id())
    # the lake has the object, Kafka's record has not
    assert fresh_lake.published(BLOCKS.lake_folder, PARTITION) is None
    again = run_id()
    assert deliver(fresh_lake, publisher, spool([sample_batch(3)], PARTITION), again).messages == 3
    assert len(messages(pipeline_env, again)) == 3
