"""The metadata versions served, oldest first, and what each one adds."""

from __future__ import annotations

LATEST = "latest"

#: EC2 metadata versions (Nova serves these; 2009-04-04 is the newest it knows)
EC2_VERSIONS = (
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
)

FOLSOM = "2012-08-10"
GRIZZLY = "2013-04-04"  # password, random_seed
HAVANA = "2013-10-17"  # vendor_data.json
LIBERTY = "2015-10-15"  # network_data.json, project_id
NEWTON_ONE = "2016-06-30"  # devices
NEWTON_TWO = "2016-10-06"  # vendor_data2.json
OCATA = "2017-02-22"
ROCKY = "2018-08-27"
VICTORIA = "2020-10-14"  # dedicated_cpus

OPENSTACK_VERSIONS = (
    FOLSOM,
    GRIZZLY,
    HAVANA,
    LIBERTY,
    NEWTON_ONE,
    NEWTON_TWO,
    OCATA,
    ROCKY,
    VICTORIA,
)


def resolve(requested: str, known: tuple[str, ...]) -> str | None:
    """The version ``requested`` names (``latest`` is the newest), or None if unknown."""
    if requested == LATEST:
        return known[-1]
    return requested if requested in known else None


def at_least(version: str, required: str, known: tuple[str, ...]) -> bool:
    return known.index(version) >= known.index(required)
