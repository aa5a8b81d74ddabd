"""Builds connectors from the data map: one builder per connector type (no if-chain)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dsar.connectors.base import Connector, ConnectorFactory
from dsar.connectors.datamap import SystemMap
from dsar.connectors.sql import SqlConnector
from dsar.domain.errors import ConfigurationError

BUILDERS: dict[str, Callable[[SystemMap, str], Connector]] = {
    "sql": SqlConnector,
}


def connector_for(system_map: SystemMap, secrets: Mapping[str, str]) -> Connector:
    try:
        credential = secrets[system_map.connection]
    except KeyError:
        raise ConfigurationError(f"system {system_map.system}: environment variable {system_map.connection} is not set") from None
    return BUILDERS[system_map.type](system_map, credential)


class DataMapConnectorFactory(ConnectorFactory):
    def __init__(self, maps: list[SystemMap], secrets: Mapping[str, str]) -> None:
        self._maps = maps
        self._secrets = dict(secrets)

    def connectors(self) -> list[Connector]:
        return [connector_for(m, self._secrets) for m in self._maps]
