"""Builds connectors from the data map: one builder per connector type (no if-chain)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dsar.connectors.base import Connector, ConnectorFactory
from dsar.connectors.datamap import AnySystem
from dsar.connectors.manual import ManualConnector
from dsar.connectors.sql import SqlConnector
from dsar.domain.errors import ConfigurationError

# (system map, resolved credential, pseudonym key) -> connector
BUILDERS: dict[str, Callable[[Any, str, bytes], Connector]] = {
    "sql": SqlConnector,
    "manual": ManualConnector,
}


def connector_for(system_map: AnySystem, secrets: Mapping[str, str], pseudonym_key: bytes = b"") -> Connector:
    credential = ""
    if system_map.connection is not None:
        try:
            credential = secrets[system_map.connection]
        except KeyError:
            raise ConfigurationError(f"system {system_map.system}: environment variable {system_map.connection} is not set") from None
    return BUILDERS[system_map.type](system_map, credential, pseudonym_key)


class DataMapConnectorFactory(ConnectorFactory):
    def __init__(self, maps: list[AnySystem], secrets: Mapping[str, str], pseudonym_key: bytes = b"") -> None:
        self._maps = maps
        self._secrets = dict(secrets)
        self._pseudonym_key = pseudonym_key

    def connectors(self) -> list[Connector]:
        return [connector_for(m, self._secrets, self._pseudonym_key) for m in self._maps]
