"""The compute services of one gateway, built together because they count on each other."""

from __future__ import annotations

from dataclasses import dataclass

from interstack.services.compute.flavors import FlavorService
from interstack.services.compute.keypairs import KeypairService
from interstack.services.compute.quotas import QuotaService
from interstack.store import Database


@dataclass
class ComputeServices:
    """What the compute API uses: one field per resource service."""

    flavors: FlavorService
    keypairs: KeypairService
    quotas: QuotaService

    @classmethod
    def build(cls, db: Database) -> ComputeServices:
        return cls(flavors=FlavorService(db), keypairs=KeypairService(db), quotas=QuotaService(db))

    def bootstrap(self) -> None:
        """First start only: the default flavors (an operator may delete them afterwards)."""
        self.flavors.seed()
