"""Where dsar finds the files it ships beside its code: the letter templates, the demo
company's data map and the Prefect flow definitions.

Running from a clone they are the checkout's own folders (``templates/``, ``connectors/``,
``flows/``), so an edit there shows at once. Installed from a wheel they are the copies packed
inside the package, under ``dsar/_resources/`` (``[tool.hatch.build.targets.wheel.force-include]``
in pyproject.toml): an installed dsar works from any folder.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "_resources"


def checkout() -> Path | None:
    """The root of the clone this package runs from (``src/dsar`` under a pyproject.toml),
    or None when it is installed."""
    root = _PACKAGE.parents[1]
    if _PACKAGE == root / "src" / "dsar" and (root / "pyproject.toml").is_file():
        return root
    return None


def _folder(name: str) -> Path:
    root = checkout()
    return (root if root is not None else _BUNDLED) / name


def templates_dir() -> Path:
    """The letter templates (default of DSAR_TEMPLATES_DIR)."""
    return _folder("templates")


def data_map_dir() -> Path:
    """The demo company's data map, one YAML per system (default of DSAR_DATA_MAP_DIR)."""
    return _folder("connectors")


def flows_dir() -> Path:
    """The Prefect flow and deployment definitions `dsar serve` loads by path."""
    return _folder("flows")


def entrypoint(file: str, name: str) -> str:
    """A Prefect entrypoint into the flows folder, ``/…/flows/process_request.py:process_request``:
    loaded by path, so no ``flows`` package has to be importable."""
    return f"{flows_dir() / file}:{name}"
