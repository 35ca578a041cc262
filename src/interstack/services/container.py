"""The services of one gateway, built by the app factory and injected into every request."""

from __future__ import annotations

from dataclasses import dataclass

from interstack.config import Settings
from interstack.services.catalog import Catalog
from interstack.services.identity.auth import AuthService
from interstack.store import Database


@dataclass
class Services:
    """Everything a request handler may use. Created once per app; never global."""

    settings: Settings
    db: Database
    catalog: Catalog
    auth: AuthService
