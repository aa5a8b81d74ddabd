"""How the package hangs together: entry points call services, dsar never imports the flow
files, and the files an installed dsar needs are found in the checkout when running from one."""

from __future__ import annotations

import ast
from pathlib import Path

from dsar import resources

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "dsar"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_nothing_in_dsar_imports_the_flow_files() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(m for m in imported_modules(p) if m == "flows" or m.startswith("flows."))
        for p in SRC.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_flow_files_import_no_flows_package() -> None:
    for p in (ROOT / "flows").glob("*.py"):
        assert not [m for m in imported_modules(p) if m == "flows" or m.startswith("flows.")], p.name
    assert not (ROOT / "flows" / "__init__.py").exists()


def test_the_command_line_reads_through_services_never_the_repository() -> None:
    cli = SRC / "cli.py"
    assert not [m for m in imported_modules(cli) if m.startswith("dsar.persistence")]
    assert ".repo." not in cli.read_text() and "uow()" not in cli.read_text()
    demo = SRC / "demo" / "run.py"
    assert ".repo." not in demo.read_text() and not [m for m in imported_modules(demo) if m.startswith("dsar.persistence")]


def test_running_from_the_checkout_uses_its_folders() -> None:
    assert resources.checkout() == ROOT
    assert resources.templates_dir() == ROOT / "templates"
    assert resources.data_map_dir() == ROOT / "connectors"
    assert resources.flows_dir() == ROOT / "flows"
    assert resources.entrypoint("process_request.py", "process_request") == f"{ROOT}/flows/process_request.py:process_request"
