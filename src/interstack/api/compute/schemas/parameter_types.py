"""Field types that Nova's request bodies share across resources, as Nova keeps them in
``nova.api.validation.parameter_types``; the types of one resource stay in its own module."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

#: Nova's ``parameter_types.boolean``: a JSON boolean or one of these spellings of it, exactly
#: (no other case, no ``t``/``y``, no number, which pydantic alone would take)
_BOOLEAN_SPELLINGS = {
    **dict.fromkeys(("True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes"), True),
    **dict.fromkeys(("False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"), False),
}


def nova_boolean(value: object) -> object:
    """``value`` read as Nova's boolean; anything else is a ValueError naming the spellings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _BOOLEAN_SPELLINGS:
        return _BOOLEAN_SPELLINGS[value]
    raise ValueError(
        f"{value!r} is not a boolean: give true or false (or the string 'true', 'false', "
        "'yes', 'no', 'on', 'off', '1' or '0')"
    )


#: a boolean field of Nova's (``delete_on_termination``, ``config_drive``, a flavor's
#: ``os-flavor-access:is_public``, a quota set's ``force`` ...)
Boolean = Annotated[bool, BeforeValidator(nova_boolean)]
