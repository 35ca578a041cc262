"""Request bodies of ``PUT /os-quota-sets/{project_id}``: which keys a microversion accepts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from interstack.api.compute.schemas.parameter_types import Boolean

Limit = Annotated[int, Field(ge=-1, le=2147483647)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuotaValuesV257(_Closed):
    """2.57 on: compute quotas only, no injected files."""

    force: Boolean = False
    instances: Limit | None = None
    cores: Limit | None = None
    ram: Limit | None = None
    key_pairs: Limit | None = None
    metadata_items: Limit | None = None
    server_groups: Limit | None = None
    server_group_members: Limit | None = None

    def changes(self) -> dict[str, int]:
        """The limits the client set (``force`` is no limit)."""
        return {k: v for k, v in self.model_dump(exclude={"force"}).items() if v is not None}


class QuotaValuesV236(QuotaValuesV257):
    """2.36 to 2.56: injected files still counted."""

    injected_files: Limit | None = None
    injected_file_content_bytes: Limit | None = None
    injected_file_path_bytes: Limit | None = None


class QuotaValuesV21(QuotaValuesV236):
    """Before 2.36: the network quotas Nova once proxied are accepted too."""

    fixed_ips: Limit | None = None
    floating_ips: Limit | None = None
    security_groups: Limit | None = None
    security_group_rules: Limit | None = None


class QuotaUpdateV21(_Closed):
    quota_set: QuotaValuesV21


class QuotaUpdateV236(_Closed):
    quota_set: QuotaValuesV236


class QuotaUpdateV257(_Closed):
    quota_set: QuotaValuesV257
