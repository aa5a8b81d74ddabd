"""The `manual` connector: a system without an API (a paper archive, a vendor portal, an old
desktop tool). Nothing is automated and nothing is pretended: the plan says a person must act,
and the request's flow run waits — suspended, like legal's sign-off — until that person
confirms in the Prefect UI (or `dsar request confirm`) what they found and did.
"""

from __future__ import annotations

from collections.abc import Iterator

from dsar.connectors.base import Capability, Connector, ExportRecord, Health, LocateResult, SubjectKeys
from dsar.connectors.schema import ManualSystem


class ManualConnector(Connector):
    capabilities = frozenset({Capability.LOCATE, Capability.EXPORT, Capability.ERASE})
    manual = True

    def __init__(self, system_map: ManualSystem, url: str = "", pseudonym_key: bytes = b"") -> None:
        self.system = system_map.system
        self.map = system_map

    def check(self) -> Health:
        return Health(self.system, True, "manual system: a person acts on it; nothing to connect to")

    def locate(self, subject: SubjectKeys) -> LocateResult:
        return LocateResult(self.system, ())  # only a person can look

    def export(self, located: LocateResult) -> Iterator[ExportRecord]:
        return iter(())
