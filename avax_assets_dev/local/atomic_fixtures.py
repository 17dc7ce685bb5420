"""The C-Chain's atomic transactions of the fake devchain: FIXTURES, not the network. anvil makes no
`blockExtraData`, so atomic_proxy.py (a FAKE in front of it) puts these into a few devchain blocks.

They are encoded and signed by Ava Labs' JavaScript library (atomic_fixtures.js, npm avalanche@3.16.0, run once
with node), never by the project's decoder, and written with their provenance into fixtures/atomic.json. They are
consistent with the fixture P-Chain (p_chain_fixtures.py), which reads their ids back from that file:

  2024-06-01  C-Chain export 1 → the P-Chain's "import 1" consumes its UTXO            (C→P, matched)
  2024-06-03  one block, a batch of three (Apricot Phase 5):
              C-Chain import 1 ← spends the UTXO the P-Chain's "export 1" made           (P→C, matched)
              C-Chain export 2 → the P-Chain's "import 2" consumes its UTXO            (C→P, matched)
              C-Chain export 3 → imported by nothing                                   (C→P, not imported yet)
  and the P-Chain's "export 2" is imported by nothing here                             (P→C, not imported yet)

Each block's `at`: the proxy puts it on the devchain's first block at or after that time, on that UTC day. The
devchain's days are after Apricot Phase 5, so every block's extra data is a batch (of one, or three). The keys
are test keys (SHA-256 of a label) that hold nothing; only their addresses are written. Amounts are nAVAX.

    python -m avax_assets_dev.local.atomic_fixtures   # rewrites atomic.json, then the P-Chain's pages
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from avax_assets_dev.local import p_chain_fixtures as p_chain

HERE = Path(__file__).parent
ENCODER = HERE / "atomic_fixtures.js"
FIXTURES = p_chain.ATOMIC_FIXTURES
EXPORTER, IMPORTER = "c-chain exporter", "c-chain importer"
PROVENANCE = {
    "what": "FIXTURES, not the network: C-Chain atomic transactions for the devchain's blocks, consistent with "
            "the fixture P-Chain (avax_assets_dev/local/p_chain_fixtures.py)",
    "encoded_by": "Ava Labs' JavaScript library (npm avalanche, the version in `library`), run with node: "
                  "avax_assets_dev/local/atomic_fixtures.js; never by the project's decoder",
    "plan": "avax_assets_dev/local/atomic_fixtures.py (python -m avax_assets_dev.local.atomic_fixtures rewrites "
            "this file)",
    "served_by": "avax_assets_dev/local/atomic_proxy.py, a FAKE: anvil makes no blockExtraData; each block's "
                 "payload goes on the devchain's first block at or after `at` (Unix seconds), on that UTC day",
    "keys": "test keys, SHA-256 of 'avax-assets fixture key: <label>', holding nothing; only their addresses here",
}


def secret(label: str) -> str:
    return hashlib.sha256(f"avax-assets fixture key: {label}".encode()).hexdigest()


def export(label: str, amount: int, owner: str, nonce: int) -> dict:
    """A C-Chain ExportTx to the P-Chain: `amount` (plus the fee) from the exporter's EVM balance into one UTXO
    owned by the P-Chain address of label `owner`."""
    return {"label": label, "kind": "export", "destination": "P",
            "inputs": [{"key": EXPORTER, "amount": str(amount + p_chain.FEE), "nonce": nonce}],
            "outputs": [{"amount": str(amount), "owners": ["0x" + p_chain.short(owner).hex()], "locktime": 0,
                         "threshold": 1}]}


def import_from_p(label: str, p_export: str) -> dict:
    """A C-Chain ImportTx spending the UTXO the P-Chain's `p_export` made for the C-Chain (owned by the importer's
    key), into the importer's EVM balance less the fee."""
    amount = p_chain.EXPORTED_TO_C[p_export]
    return {"label": label, "kind": "import", "source": "P",
            "inputs": [{"txID": p_chain.fid(f"tx {p_export}"), "outputIndex": p_chain.EXPORTED_OUTPUT,
                        "amount": str(amount), "key": IMPORTER}],
            "outputs": [{"key": IMPORTER, "amount": str(amount - p_chain.FEE)}]}


def plan() -> dict:
    day1, day3 = p_chain.START, p_chain.START + 2 * p_chain.DAY
    return {"keys": {label: secret(label) for label in (EXPORTER, IMPORTER)},
            "blocks": [
                {"at": day1 + 60, "txs": [export("c-chain export 1", 500_000_000_000, "importer 1", 0)]},
                {"at": day3 + 10_900, "txs": [import_from_p("c-chain import 1", "export 1"),
                                              export("c-chain export 2", 100_000_000_000, "importer 2", 1),
                                              export("c-chain export 3", 42_000_000_000, "importer 3", 2)]},
            ]}


def encoded(planned: dict) -> dict:
    """What the JavaScript library makes of the plan (node and avalanche@3.16.0: deployments/local/setup.sh)."""
    node = shutil.which("node")
    if not node:
        raise RuntimeError("node is not installed: run deployments/local/setup.sh")
    done = subprocess.run([node, str(ENCODER)], input=json.dumps(planned), capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{ENCODER.name} failed (setup.sh installs avalanche@3.16.0): {done.stderr.strip()}")
    return json.loads(done.stdout)


def written() -> dict:
    made = encoded(plan())
    return {"provenance": PROVENANCE, "library": made["library"], "keys": made["keys"], "blocks": made["blocks"]}


def main() -> None:
    FIXTURES.write_text(json.dumps(written(), indent=1) + "\n")
    print(f"wrote the C-Chain's atomic transactions into {FIXTURES}")
    p_chain.main()


if __name__ == "__main__":
    main()
