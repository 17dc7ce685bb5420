"""A key in the node's URL never reaches what a person or a collector sees: the command's output (with
--verbose, Dagster's event log printed too) and the run's stored event log, when the node echoes the key back
in its refusal. The node is a small local server that echoes (no real provider does so on demand); the
broker, the object store and the instance are real."""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

PATH_KEY = "pathk3y-e2e-0123456789"
QUERY_KEY = "queryk3y-e2e-9876543210"


class Echoing(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.dumps({"message": f"unauthorized: {self.path} {self.headers.get('Host')}"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def echoing_node():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echoing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/{PATH_KEY}/ext/bc/C/rpc?apikey={QUERY_KEY}"
    server.shutdown()


def test_a_key_in_the_node_url_is_in_no_output_and_no_event_log(pipeline_env, echoing_node, tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "AVAX_RPC_URL": echoing_node, "DAGSTER_HOME": str(tmp_path), "AVAX_ENV_FILE": "",
           "AVAX_HOME": str(tmp_path / "home"), "AVAX_CHAIN_START_DATE": "2024-06-01",
           "AVAX_RPC_MAX_ATTEMPTS": "2", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", "avax_assets.cli", "materialize", "--select", "blocks",
                           "--partition", "2024-06-02", "--verbose"], env=env, capture_output=True, text=True,
                          timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "127.0.0.1" in output and "HTTP 401" in output, output[-3000:]
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        [run] = instance.get_runs()
        stored = "\n".join(str(entry) for entry in instance.all_logs(run.run_id))
    assert "HTTP 401" in stored
    for secret in (PATH_KEY, QUERY_KEY):
        assert secret not in output and secret not in stored
