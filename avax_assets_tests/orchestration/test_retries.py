"""Dagster retries transient failures only: a node answering 503 is tried again by the job's RetryPolicy,
a malformed payload (SourceDataError) fails the step once, for good. The faults come from the FAKE node
proxy (support.FaultyNodeProxy): a real node cannot be made to fail on demand."""

import dagster as dg
import pytest

from avax_assets.catalogue import Catalogue
from avax_assets.chain.resources import ChainRpcResource
from avax_assets.orchestration.schedules import transient_retry
from avax_assets_tests.support import FaultyNodeProxy

DAY = "2024-06-02"


@pytest.fixture
def proxy(stack):
    proxy = FaultyNodeProxy(stack.anvil.url)
    yield proxy
    proxy.close()


def run_with_retries(asset: str, resources: dict, rpc: ChainRpcResource) -> dg.ExecuteInProcessResult:
    """The asset alone in a job with the daily jobs' retry policy (no delay, so the test does not wait)."""
    job = dg.define_asset_job("retried", selection=[asset], op_retry_policy=transient_retry(delay_s=0))
    defs = dg.Definitions(assets=Catalogue().scope("chain"), jobs=[job], resources={**resources, "rpc": rpc})
    return defs.resolve_job_def("retried").execute_in_process(partition_key=DAY, raise_on_error=False)


def events(result: dg.ExecuteInProcessResult, kind: dg.DagsterEventType) -> list:
    return [e for e in result.all_events if e.event_type == kind]


def test_a_503_is_retried_by_the_job(resources, proxy, devchain):
    proxy.mode = "fail"
    result = run_with_retries("blocks", resources, ChainRpcResource(url=proxy.url, max_attempts=1))
    assert not result.success
    assert len(events(result, dg.DagsterEventType.STEP_RESTARTED)) == 3  # the policy's max_retries
    assert proxy.requests == 4  # one request per attempt (the client itself tries once)
    failure = events(result, dg.DagsterEventType.STEP_FAILURE)[-1].step_failure_data.error.to_string()
    assert "gave up after 1 attempts (last: HTTP 503)" in failure


def test_a_source_data_error_is_not_retried(resources, proxy, devchain):
    proxy.mode = "corrupt"
    result = run_with_retries("transactions", resources, ChainRpcResource(url=proxy.url, chunk_blocks=7))
    assert not result.success
    assert events(result, dg.DagsterEventType.STEP_RESTARTED) == []
    (failure,) = events(result, dg.DagsterEventType.STEP_FAILURE)
    assert "dataset 'transactions' partition 2024-06-02: field 'value' is not a hex quantity" in \
        failure.step_failure_data.error.to_string()


def test_an_interrupted_step_is_not_retried_and_ends_the_run():
    """Ctrl-C, SIGTERM or a terminated run interrupts the running step (Dagster raises it there): the job's
    RetryPolicy retried it and the run went on; now the step fails for good and the run ends. Service-free:
    the interrupt is raised in the asset body as Dagster raises it."""
    from dagster._utils.interrupts import _received_interrupt

    from avax_assets.orchestration.factory import step

    @dg.asset
    def a_interrupted() -> None:
        with step():
            raise dg.DagsterExecutionInterruptedError()

    @dg.asset
    def b_independent() -> None:
        pass

    job = dg.define_asset_job("interrupted", op_retry_policy=transient_retry(delay_s=0))
    try:
        result = dg.Definitions(assets=[a_interrupted, b_independent], jobs=[job]).resolve_job_def(
            "interrupted").execute_in_process(raise_on_error=False)
        held_after = _received_interrupt["received"]
    finally:
        _received_interrupt["received"] = False
    assert not result.success
    assert held_after is False  # the run consumed the interrupt: the next run in this process is not touched
    assert events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    # the run ended: the next step was interrupted where it started (not retried either), nothing succeeded
    assert events(result, dg.DagsterEventType.STEP_SUCCESS) == []
    assert [e.step_key for e in events(result, dg.DagsterEventType.STEP_START)][0] == "a_interrupted"
    failure = events(result, dg.DagsterEventType.STEP_FAILURE)[0].step_failure_data.error.to_string()
    assert "interrupted (Ctrl-C, SIGTERM or the run terminated): not retried" in failure
