"""The layers ARCHITECTURE.md describes, held to the code: imports only point down, Dagster is imported
only above the shared stages, the environment is read in one place, and the package never imports its
dev tooling."""

import ast

from avax_assets_tests.conftest import REPO

PACKAGE = REPO / "avax_assets"
FAMILIES = ("chain", "tokens", "events", "avacloud", "subgraphs", "analytics", "live")


def imports(path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules(folder: str = ""):
    return sorted((PACKAGE / folder).rglob("*.py"))


def test_core_imports_neither_dagster_nor_anything_above_it():
    for path in modules("core"):
        above = {name for name in imports(path) if name.split(".")[0] == "dagster"
                 or (name.startswith("avax_assets.") and not name.startswith("avax_assets.core"))}
        assert not above, f"{path.relative_to(REPO)} imports {above}"


def test_only_a_familys_asset_wiring_reaches_the_dagster_layer():
    for family in FAMILIES:
        for path in modules(family):
            if path.name == "assets.py":
                continue
            upward = {name for name in imports(path) if name.split(".")[0] == "dagster"
                      or name.startswith(("avax_assets.orchestration", "avax_assets.catalogue"))}
            assert not upward, f"{path.relative_to(REPO)} imports {upward}"


def test_the_dagster_layer_knows_no_family_but_through_the_catalogue():
    for path in modules("orchestration"):
        families = {name for name in imports(path) if name.split(".")[:2][-1] in FAMILIES
                    and name.startswith("avax_assets.")}
        allowed = {"avax_assets.chain.reader", "avax_assets.chain.rpc", "avax_assets.avacloud.client",
                   "avax_assets.subgraphs.client"}  # the resources build the source clients
        assert families <= allowed, f"{path.relative_to(REPO)} imports {families - allowed}"


def test_asset_decorators_are_written_in_the_factory_only():
    writers = [path.relative_to(PACKAGE).as_posix() for path in modules() if "@dg.asset(" in path.read_text()]
    assert writers == ["orchestration/factory.py"]


def test_the_environment_is_read_in_one_module_and_the_package_never_imports_dev_tooling():
    readers = [path.relative_to(PACKAGE).as_posix() for path in modules()
               if "os.environ" in path.read_text() or "getenv" in path.read_text()]
    assert readers == ["orchestration/environment.py"]
    for path in modules():
        assert not {name for name in imports(path) if name.startswith("avax_assets_dev")}, path
