"""The engine as a flow process sees it: built once per process from settings, on first use
(never at import: the flow files import this module before Prefect has started the run)."""

from __future__ import annotations

import threading

from dsar.app import App, build_app
from dsar.filemodes import restrict_new_files
from dsar.settings import load_settings

_lock = threading.Lock()
_app: App | None = None


def app() -> App:
    global _app
    with _lock:
        if _app is None:
            restrict_new_files()  # the flow process writes exports, mail and bundles: 0600
            _app = build_app(load_settings())
        return _app
