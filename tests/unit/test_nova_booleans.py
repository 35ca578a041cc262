"""Flavor ``is_public``, quota ``force`` and rebuild ``preserve_ephemeral`` take Nova's boolean
(true/false or its exact string spellings), not pydantic's lax one ('t', 'y', 1, 1.0)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from interstack.api.body import nova_validation_message, validation_message
from interstack.api.compute.schemas.flavors import NewFlavor
from interstack.api.compute.schemas.quotas import QuotaValuesV257
from interstack.api.compute.schemas.server_actions import Rebuild

IMAGE = "70a599e0-31e7-49b7-b260-868f441e862b"
CASES: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (NewFlavor, {"name": "f", "ram": 1, "vcpus": 1, "disk": 0}, "os-flavor-access:is_public"),
    (QuotaValuesV257, {}, "force"),
    (Rebuild, {"imageRef": IMAGE}, "preserve_ephemeral"),
]


@pytest.mark.parametrize(("model", "base", "field"), CASES)
@pytest.mark.parametrize("odd", ["t", "y", "tRuE", 1, 0, 1.0])
def test_lax_spellings_refused(
    model: type[BaseModel], base: dict[str, Any], field: str, odd: object
) -> None:
    with pytest.raises(ValidationError, match="is not a boolean"):
        model.model_validate({**base, field: odd})


@pytest.mark.parametrize(("model", "base", "field"), CASES)
@pytest.mark.parametrize(
    ("spelled", "meant"), [(True, True), ("yes", True), ("Off", False), ("0", False)]
)
def test_nova_spellings_read(
    model: type[BaseModel], base: dict[str, Any], field: str, spelled: object, meant: bool
) -> None:
    parsed = model.model_validate({**base, field: spelled})
    name = next(k for k, f in model.model_fields.items() if (f.alias or k) == field)
    assert getattr(parsed, name) is meant


def _refusal(data: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        QuotaValuesV257.model_validate(data)
    return refused.value


def test_a_refusal_reads_as_novas_without_pydantics_prefix() -> None:
    """Nova's ``Invalid input for field/attribute <field>. Value: <value>. <why>`` (the
    validator's own words, not pydantic's "Value error, " before them); a missing or unknown
    property as Nova's jsonschema says it; the other services' wording loses the prefix too."""
    odd = _refusal({"force": "y"})
    assert nova_validation_message(odd).startswith(
        "Invalid input for field/attribute force. Value: y. 'y' is not a boolean: give true"
    )
    assert validation_message(odd).startswith("Invalid input for field 'force': 'y' is not")
    unknown = nova_validation_message(_refusal({"cores": 1, "bogus": 1}))
    assert unknown == "Additional properties are not allowed ('bogus' was unexpected)."


def test_a_missing_property_is_named_as_nova_names_it() -> None:
    with pytest.raises(ValidationError) as refused:
        Rebuild.model_validate({})
    assert nova_validation_message(refused.value) == "'imageRef' is a required property."
