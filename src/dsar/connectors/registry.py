"""Builds connectors from the data map: one builder per connector type (no if-chain)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dsar.connectors.base import Connector, ConnectorFactory
from dsar.connectors.datamap import AnySystem
from dsar.connectors.dynamodb import DynamoDbConnector
from dsar.connectors.http import HttpConnector, HttpSystem
from dsar.connectors.manual import ManualConnector
from dsar.connectors.s3 import S3Connector
from dsar.connectors.sql import SqlConnector
from dsar.domain.errors import ConfigurationError, NotFound


def _secret(system: str, secrets: Mapping[str, str], name: str) -> str:
    try:
        return secrets[name]
    except KeyError:
        raise ConfigurationError(f"system {system}: environment variable {name} is not set") from None


def _http(m: HttpSystem, url: str, pseudonym_key: bytes, secrets: Mapping[str, str]) -> Connector:
    # The auth header's value comes from the variable `auth_secret` names, like the URL.
    auth = _secret(m.system, secrets, m.auth_secret) if m.auth_secret is not None else None
    return HttpConnector(m, url, pseudonym_key, auth)


# (system map, resolved connection, pseudonym key, secrets) -> connector
BUILDERS: dict[str, Callable[[Any, str, bytes, Mapping[str, str]], Connector]] = {
    "sql": lambda m, url, key, _: SqlConnector(m, url, key),
    "s3": lambda m, url, key, _: S3Connector(m, url, key),
    "dynamodb": lambda m, url, key, _: DynamoDbConnector(m, url, key),
    "http": _http,
    "manual": lambda m, url, key, _: ManualConnector(m, url, key),
}


def connector_for(system_map: AnySystem, secrets: Mapping[str, str], pseudonym_key: bytes = b"") -> Connector:
    credential = _secret(system_map.system, secrets, system_map.connection) if system_map.connection is not None else ""
    return BUILDERS[system_map.type](system_map, credential, pseudonym_key, secrets)


class DataMapConnectorFactory(ConnectorFactory):
    """The connectors of a loaded data map, each built from its map entry and the secret its
    ``connection`` names (a missing variable is a ConfigurationError when that system is opened)."""

    def __init__(self, maps: Sequence[AnySystem], secrets: Mapping[str, str], pseudonym_key: bytes = b"") -> None:
        self._maps = {m.system: m for m in maps}
        if len(self._maps) != len(maps):
            raise ConfigurationError("the data map names a system twice")
        self._secrets = dict(secrets)
        self._pseudonym_key = pseudonym_key

    def _map(self, system: str) -> AnySystem:
        try:
            return self._maps[system]
        except KeyError:
            raise NotFound(f"system {system} is not in the data map") from None

    def systems(self) -> list[str]:
        return list(self._maps)

    def is_manual(self, system: str) -> bool:
        return self._map(system).type == "manual"

    def build(self, system: str) -> Connector:
        return connector_for(self._map(system), self._secrets, self._pseudonym_key)
