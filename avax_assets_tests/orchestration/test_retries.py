"""Dagster retries transient failures only: a node answering 503 is tried again by the job's RetryPolicy,
a malformed payload (SourceDataError) fails the step once, for good. The faults come from the FAKE node
proxy (support.FaultyNodeProxy): a real node cannot be made to fail on demand."""

import signal

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


def _interrupt_surfacing_as_an_import_error() -> None:
    """As an extension module being imported turns the interrupt raised in it into an ImportError."""
    try:
        signal.raise_signal(signal.SIGINT)
    except BaseException as exc:  # noqa: BLE001 (what the import machinery does)
        raise ImportError(f"{type(exc).__name__}: <EMPTY MESSAGE>") from None


def _interrupt_swallowed() -> None:
    """As a finalizer the collector runs drops the interrupt raised in it."""
    try:
        signal.raise_signal(signal.SIGINT)
    except BaseException:  # noqa: BLE001 (what a finalizer's caller does)
        pass


@pytest.mark.parametrize("body", [_interrupt_surfacing_as_an_import_error, _interrupt_swallowed],
                         ids=["surfacing-as-an-import-error", "swallowed"])
def test_a_step_a_stop_signal_reached_is_interrupted_whatever_its_code_made_of_it(body):
    from dagster._utils.interrupts import _received_interrupt

    from avax_assets.orchestration.factory import step

    @dg.asset
    def a_interrupted() -> None:
        with step():
            body()

    job = dg.define_asset_job("interrupted", op_retry_policy=transient_retry(delay_s=0))
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = dg.Definitions(assets=[a_interrupted], jobs=[job]).resolve_job_def(
            "interrupted").execute_in_process(raise_on_error=False)
    finally:
        _received_interrupt["received"] = False
    assert {signum: signal.getsignal(signum) for signum in before} == before
    assert not result.success
    assert events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    failure = events(result, dg.DagsterEventType.STEP_FAILURE)[0].step_failure_data.error.to_string()
    assert "interrupted (Ctrl-C, SIGTERM or the run terminated): not retried" in failure
