"""Request bodies of flavors, extra specs and flavor access."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from interstack.api.compute.schemas.parameter_types import Boolean

#: Nova's upper bound of flavor sizes (a signed 32-bit database integer)
MAX_INT = 2147483647

Positive = Annotated[int, Field(ge=1, le=MAX_INT, strict=False)]
NonNegative = Annotated[int, Field(ge=0, le=MAX_INT, strict=False)]
FlavorName = Annotated[str, Field(min_length=1, max_length=255)]
FlavorId = Annotated[
    str,
    Field(
        min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9._-]([a-zA-Z0-9. _-]*[a-zA-Z0-9._-])?$"
    ),
]
SpecKey = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9-_:. /]+$")]
SpecValue = Annotated[str | int | float | bool, Field(union_mode="left_to_right")]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NewFlavor(_Closed):
    name: FlavorName
    id: FlavorId | None = None
    ram: Positive
    vcpus: Positive
    disk: NonNegative
    ephemeral: NonNegative = Field(default=0, alias="OS-FLV-EXT-DATA:ephemeral")
    swap: NonNegative | Literal[""] = 0
    rxtx_factor: float = Field(default=1.0, gt=0, le=3.40282e38)
    is_public: Boolean = Field(default=True, alias="os-flavor-access:is_public")

    @field_validator("name")
    @classmethod
    def _no_outer_spaces(cls, name: str) -> str:
        if name != name.strip():
            raise ValueError("the name may not start or end with whitespace")
        return name


class NewFlavorV255(NewFlavor):
    """2.55 adds ``description``."""

    description: Annotated[str | None, Field(max_length=65535)] = None


class FlavorCreate(_Closed):
    flavor: NewFlavor


class FlavorCreateV255(_Closed):
    flavor: NewFlavorV255


class FlavorChange(_Closed):
    description: Annotated[str | None, Field(max_length=65535)]


class FlavorUpdate(_Closed):
    """``PUT /flavors/{id}`` (2.55+): only the description changes."""

    flavor: FlavorChange


def spec_text(value: str | int | float | bool) -> str:
    """Extra spec values are strings; Nova accepts numbers and booleans and stores their text."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


class ExtraSpecsCreate(_Closed):
    extra_specs: dict[SpecKey, Annotated[SpecValue, Field()]]

    @field_validator("extra_specs")
    @classmethod
    def _value_length(cls, specs: dict[str, SpecValue]) -> dict[str, SpecValue]:
        for key, value in specs.items():
            if len(spec_text(value)) > 255:
                raise ValueError(f"the value of {key} is longer than 255 characters")
        return specs


class TenantAccess(_Closed):
    tenant: Annotated[str, Field(min_length=1, max_length=255)]


class AddTenantAccess(_Closed):
    add: TenantAccess = Field(alias="addTenantAccess")


class RemoveTenantAccess(_Closed):
    remove: TenantAccess = Field(alias="removeTenantAccess")
