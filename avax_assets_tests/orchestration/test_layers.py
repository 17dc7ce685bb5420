"""The layers ARCHITECTURE.md describes, held to the code: imports only point down (core ← families ←
orchestration's factory; the Dagster layer imports no family, folders import each other in no loop), Dagster
is imported only above the shared stages, the environment is read in one place, and the package never
imports its dev tooling."""

import ast

from avax_assets_tests.conftest import REPO

PACKAGE = REPO / "avax_assets"
FAMILIES = ("chain", "tokens", "events", "avacloud", "subgraphs", "analytics", "primary")  # a source's datasets each
SERVICES = ("live",)  # the live path: runs the families' code outside Dagster runs



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


WIRING = ("assets.py", "resources.py", "sensor.py")  # a family's Dagster side


def test_only_a_familys_wiring_reaches_the_dagster_layer():
    for family in (*FAMILIES, *SERVICES):
        for path in modules(family):
            if path.name in WIRING:
                continue
            upward = {name for name in imports(path) if name.split(".")[0] == "dagster"
                      or name.startswith(("avax_assets.orchestration", "avax_assets.catalogue"))}
            assert not upward, f"{path.relative_to(REPO)} imports {upward}"


def test_the_dagster_layer_imports_no_family():
    for path in modules("orchestration"):
        families = {name for name in imports(path) if name.startswith("avax_assets.")
                    and name.split(".")[1] in (*FAMILIES, *SERVICES)}
        assert not families, f"{path.relative_to(REPO)} imports {families}"


def folder_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "avax_assets" and len(parts) > 2 else None


def test_imports_between_folders_form_no_loop():
    edges = {}
    for path in modules():
        here = path.relative_to(PACKAGE).parts[0] if len(path.relative_to(PACKAGE).parts) > 1 else None
        if here is None:
            continue
        for name in imports(path):
            there = folder_of(name)
            if there and there != here:
                edges.setdefault(here, set()).add(there)

    def reaches(start: str, goal: str, seen: set) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt}))
                   for nxt in edges.get(start, ()))

    loops = sorted(f"{a} → {b}" for a, targets in edges.items() for b in targets if reaches(b, a, {b}))
    assert not loops, f"folders importing each other: {loops}"


def test_asset_decorators_are_written_in_the_factory_only():
    writers = [path.relative_to(PACKAGE).as_posix() for path in modules() if "@dg.asset(" in path.read_text()]
    assert writers == ["orchestration/factory.py"]


def test_the_environment_is_read_in_one_module_and_the_package_never_imports_dev_tooling():
    readers = [path.relative_to(PACKAGE).as_posix() for path in modules()
               if "os.environ" in path.read_text() or "getenv" in path.read_text()]
    assert readers == ["orchestration/configured.py"]
    for path in modules():
        assert not {name for name in imports(path) if name.startswith("avax_assets_dev")}, path
