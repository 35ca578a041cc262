"""Request bodies of block storage calls.

Bodies are lenient about keys Cinder accepts but this gateway ignores (``backup_id`` of a
create, scheduler hints) and strict about the values of the keys it reads: a size that is not a
positive integer, metadata that is not a mapping of strings, a name over 255 characters are
400s with the field named.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from interstack.errors import BadRequest

Name = Annotated[str, Field(max_length=255)]
Description = Annotated[str, Field(max_length=65535)]
Metadata = dict[str, Annotated[str, Field(max_length=255)]]


def _size(value: Any) -> Any:
    """Cinder takes a size as an integer or a string of digits."""
    if isinstance(value, bool):
        raise BadRequest(f"Invalid input received: Volume size '{value}' must be an integer.")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _flag(value: Any) -> Any:
    """A boolean given as JSON true/false or the strings Cinder's ``bool_from_string`` reads."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "t", "yes", "y", "on", "1"):
            return True
        if lowered in ("false", "f", "no", "n", "off", "0"):
            return False
    return value


Size = Annotated[int, BeforeValidator(_size)]
Flag = Annotated[bool, BeforeValidator(_flag)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewVolume(_Lenient):
    size: Size | None = None
    name: Name | None = None
    display_name: Name | None = None
    description: Description | None = None
    display_description: Description | None = None
    volume_type: Name | None = None
    availability_zone: Name | None = None
    metadata: Metadata | None = None
    snapshot_id: str | None = None
    source_volid: str | None = None
    imageRef: str | None = None  # noqa: N815 (Cinder's name)
    multiattach: bool = False


class VolumeCreate(_Lenient):
    volume: NewVolume


class VolumeChanges(_Lenient):
    name: Name | None = None
    display_name: Name | None = None
    description: Description | None = None
    display_description: Description | None = None
    metadata: Metadata | None = None


class VolumeUpdate(_Closed):
    volume: VolumeChanges


class MetadataBody(_Closed):
    metadata: Metadata


class MetaItem(_Closed):
    meta: Metadata


class NewSnapshot(_Lenient):
    volume_id: str | None  # required, null allowed: Cinder then finds no such volume (404)
    name: Name | None = None
    display_name: Name | None = None
    description: Description | None = None
    display_description: Description | None = None
    force: Flag = False
    metadata: Metadata | None = None


class SnapshotCreate(_Lenient):
    snapshot: NewSnapshot


class SnapshotChanges(_Lenient):
    name: Name | None = None
    display_name: Name | None = None
    description: Description | None = None
    display_description: Description | None = None


class SnapshotUpdate(_Closed):
    snapshot: SnapshotChanges


class NewType(_Lenient):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    description: Description | None = None
    is_public: Flag | None = None
    access_is_public: Flag | None = Field(default=None, alias="os-volume-type-access:is_public")
    extra_specs: Metadata = Field(default_factory=dict)


class TypeCreate(_Closed):
    volume_type: NewType


class TypeChanges(_Lenient):
    name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    description: Description | None = None
    is_public: Flag | None = None


class TypeUpdate(_Closed):
    volume_type: TypeChanges


class ExtraSpecs(_Closed):
    extra_specs: Metadata


class QuotaValues(_Lenient):
    volumes: int | None = None
    snapshots: int | None = None
    gigabytes: int | None = None
    backups: int | None = None
    backup_gigabytes: int | None = None
    groups: int | None = None
    per_volume_gigabytes: int | None = None

    def changes(self) -> dict[str, int]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class QuotaUpdate(_Closed):
    quota_set: QuotaValues


# -- actions -------------------------------------------------------------------------------


class Extend(_Lenient):
    new_size: Size


class SetBootable(_Lenient):
    bootable: Flag


class SetReadonly(_Lenient):
    readonly: Flag


class ResetStatus(_Lenient):
    status: str | None = None
    attach_status: str | None = None
    migration_status: str | None = None


class UploadImage(_Lenient):
    image_name: Annotated[str, Field(min_length=1, max_length=255)]
    force: Flag = False
    disk_format: str = "raw"
    container_format: str = "bare"
    visibility: str = "private"
    protected: Flag = False


class Attach(_Lenient):
    instance_uuid: str | None = None
    host_name: str | None = None
    mountpoint: str
    mode: str = "rw"


class Detach(_Lenient):
    attachment_id: str | None = None


class SnapshotResetStatus(_Lenient):
    status: str


class NewAttachment(_Lenient):
    volume_uuid: str
    instance_uuid: str | None = None
    connector: dict[str, Any] | None = None
    mode: Literal["rw", "ro"] | None = None


class AttachmentCreate(_Closed):
    attachment: NewAttachment


class AttachmentChanges(_Lenient):
    connector: dict[str, Any]


class AttachmentUpdate(_Closed):
    attachment: AttachmentChanges


class Complete(_Lenient):
    pass
