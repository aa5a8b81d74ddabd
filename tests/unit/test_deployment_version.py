"""The deployments carry dsar's version and never ask git for one (Prefect would otherwise run
`git log` inside `dsar serve` at every registration and keep the last commit message)."""

from __future__ import annotations

import shutil
from importlib.metadata import version
from pathlib import Path

import pytest
from prefect.utilities.importtools import import_object

from dsar import resources
from tests.conftest import make_settings


def test_every_deployment_has_dsars_version_and_infers_none_from_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a PATH where `git` is a script that records being called: inference would run it
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    called = tmp_path / "git-called"
    (bin_dir / "git").write_text(f"#!/bin/sh\ntouch {called}\nexit 1\n")
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(shutil.which('sh') or '/bin/sh').parent}")
    define = import_object(resources.entrypoint("deployments.py", "deployments"))
    found = define(make_settings(tmp_path / "home"))
    assert found
    for d in found:
        assert d.version == version("dsar")
        info = d._get_deployment_version_info(d.version_type)
        assert info.type == "prefect:simple" and info.version == version("dsar")
    assert not called.exists(), "a deployment asked git for its version"
