"""No debris: a `services.sh up` that stops on a busy port, and a benchmark or the demo interrupted early
(SIGTERM, Ctrl-C), stop every process they started (SeaweedFS, Tansu, anvil, the fixture servers), each on
ports and a home of its own. Every service runs in its home (services.py), so what survives is found there."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avax_assets_tests.conftest import REPO, service_port

# SeaweedFS takes port..port+4 and port+10000: below the ephemeral range (32768-), where an outgoing connection
# may hold one
PORTS = {"s3": service_port(21533), "kafka": service_port(19094), "anvil": service_port(18547),
         "avacloud": service_port(8442), "graph": service_port(8452), "atomic": service_port(8443),
         "l1": service_port(8453)}
BENCH_PORT_OFFSET = service_port(1000)  # the live benchmark's ports (49333, 29292, 28745) moved by this much
WAIT_S = 300  # the most a scenario waits for a process to get somewhere or end (a bound, not a timing)


@pytest.fixture
def own_services(tmp_path):
    """A home for services a command under test starts; whatever it leaves running is stopped afterwards."""
    home = tmp_path / "home"
    yield home
    for pid in processes_in(home):
        os.kill(pid, signal.SIGKILL)


def processes_in(home: Path) -> list[int]:
    """The processes whose working directory is in `home`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:  # gone, a zombie, or not ours to read
            continue
        if cwd == home or home in cwd.parents:
            found.append(int(entry.name))
    return found


def stack_flags(home: Path) -> list[str]:
    return ["--home", str(home), *(f for name, port in PORTS.items() for f in (f"--{name}-port", str(port)))]


def environment(home: Path) -> dict[str, str]:
    """This process's environment without the session's settings (its engine, bucket, services): a command
    under test must use the home it is given, never the session's."""
    own = {k: v for k, v in os.environ.items() if not k.startswith(("AVAX_", "DAGSTER_"))}
    return {**own, "AVAX_ENV_FILE": "", "PYTHONWARNINGS": "ignore", "DAGSTER_HOME": str(home)}


def interrupted(command: list[str], home: Path, when: str, signum: int) -> subprocess.CompletedProcess:
    """Run `command`, send it `signum` once a file matching `when` (a pattern under its home) is there, and
    wait for its end."""
    process = subprocess.Popen(command, cwd=REPO, env=environment(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + WAIT_S
        while not any(home.glob(when)) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process.poll() is None, f"it ended before {when} was there: {process.communicate()}"
        process.send_signal(signum)
        try:
            out, err = process.communicate(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            raise AssertionError(f"still running {WAIT_S} s after {signal.Signals(signum).name}: "
                                 f"{out[-1500:]} {err[-1500:]}") from None
        return subprocess.CompletedProcess(command, process.returncode, out, err)
    finally:  # a command that did not end (the test failed) is not left running: its cwd is not its home
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_an_up_that_stops_on_a_busy_port_stops_the_services_it_had_started(own_services):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", PORTS["anvil"]))
        squatter.listen()
        done = subprocess.run([sys.executable, "-m", "avax_assets_dev.local.services", "up",
                               *stack_flags(own_services)], cwd=REPO, env=environment(own_services),
                              capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "anvil: port" in done.stderr and "stopped again what this had started: s3, kafka" in done.stderr
    assert processes_in(own_services) == []


def test_a_benchmark_interrupted_early_stops_every_service_it_started(own_services):
    done = interrupted([sys.executable, "benchmarks/live_latency.py", "--home", str(own_services),
                        "--port-offset", str(BENCH_PORT_OFFSET)], own_services, "run/kafka.pid",
                       signal.SIGTERM)
    assert "live_latency: interrupted; the services it started are stopped" in done.stderr
    assert "Traceback" not in done.stderr
    assert processes_in(own_services) == []


# Ctrl-C while the demo starts its services, and while it runs its jobs (a run's event log is there): Dagster
# captures Ctrl-C in a run and acts on it only where a step starts, so it reached no run in its last step
@pytest.mark.timeout(3 * WAIT_S)  # its own bounds first: the demo's start, then its end after Ctrl-C
@pytest.mark.parametrize("when", ["run/anvil.pid", "chdb/*"], ids=["starting", "materializing"])
def test_the_demo_interrupted_stops_every_service_it_started(own_services, when):
    done = interrupted([sys.executable, "-m", "avax_assets_dev.demo", *stack_flags(own_services)], own_services,
                       when, signal.SIGINT)
    assert done.returncode == 130, (done.stdout[-2000:], done.stderr[-2000:])
    assert "demo: interrupted; stopped the services it had started (s3, kafka" in done.stdout
    assert processes_in(own_services) == []
