"""Interop guideline JSON (schema 1.6 and 2.0) as frozen dataclasses.

A guideline names platforms (targets), each made of components; a component lists
capabilities by status (required, advisory, deprecated, removed); a capability lists Tempest
tests, each with an idempotent id, optional aliases (other names of the same test) and an
optional flag (the test does not count for grading).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path
from typing import Any

from interstack.certify import CertifyError


class Status(StrEnum):
    REQUIRED = "required"
    ADVISORY = "advisory"
    DEPRECATED = "deprecated"
    REMOVED = "removed"


# user-facing target -> (schema 2.0 platform name, schema 1.6 component names or None = platform)
TARGETS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "platform": ("OpenStack Powered Platform", None),
    "compute": ("OpenStack Powered Compute", ("compute",)),
    "object": ("OpenStack Powered Storage", ("object",)),
}
TARGET_ALIASES = {"storage": "object"}


@dataclass(frozen=True)
class Flag:
    reason: str
    action: str = ""
    date: str = ""


@dataclass(frozen=True)
class Test:
    name: str
    idempotent_id: str  # "id-<uuid>" as in the guideline
    aliases: tuple[str, ...] = ()
    flag: Flag | None = None

    @property
    def flagged(self) -> bool:
        return self.flag is not None

    @property
    def uuid(self) -> str:
        return self.idempotent_id.removeprefix("id-")

    @property
    def names(self) -> tuple[str, ...]:
        """The test's name and every alias: passing under any of them counts."""
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Capability:
    name: str
    project: str
    description: str
    admin: bool
    tests: tuple[Test, ...]


@dataclass(frozen=True)
class TargetCapability:
    """A capability with the status it has in the components of one target."""

    capability: Capability
    status: Status

    @property
    def name(self) -> str:
        return self.capability.name


@dataclass(frozen=True)
class Guideline:
    id: str
    schema: str
    tempest_reference: str
    # component name -> status -> capability names
    components: Mapping[str, Mapping[Status, tuple[str, ...]]]
    # platform (target) name -> component names
    platforms: Mapping[str, tuple[str, ...]]
    capabilities: Mapping[str, Capability]

    def components_of(self, target: str) -> tuple[str, ...]:
        target = TARGET_ALIASES.get(target, target)
        if target not in TARGETS:
            raise CertifyError(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")
        platform, components = TARGETS[target]
        if self.schema.startswith("1."):
            if components is None:
                return self.platforms.get("platform", ())
            return tuple(c for c in components if c in self.components)
        return self.platforms.get(platform, ())

    def capabilities_for(
        self,
        target: str,
        statuses: Iterable[Status] = (Status.REQUIRED,),
        only: Sequence[str] = (),
    ) -> list[TargetCapability]:
        """Capabilities of a target with the given statuses, each once, in guideline order.

        ``only``: shell patterns (``identity-*``); a capability is kept when one matches.
        """
        wanted = set(statuses)
        found: dict[str, TargetCapability] = {}
        for component in self.components_of(target):
            for status, names in self.components[component].items():
                if status not in wanted:
                    continue
                for name in names:
                    if name in found:
                        continue
                    if only and not any(fnmatchcase(name, pattern) for pattern in only):
                        continue
                    found[name] = TargetCapability(self.capabilities[name], status)
        return list(found.values())

    def tests_for(
        self,
        target: str,
        statuses: Iterable[Status] = (Status.REQUIRED,),
        *,
        flagged: bool = False,
        only: Sequence[str] = (),
    ) -> list[Test]:
        """Unique tests (by name) of a target; flagged ones only when asked."""
        seen: dict[str, Test] = {}
        for cap in self.capabilities_for(target, statuses, only):
            for test in cap.capability.tests:
                if (flagged or not test.flagged) and test.name not in seen:
                    seen[test.name] = test
        return list(seen.values())

    def test_list(
        self,
        target: str,
        statuses: Iterable[Status] = (Status.REQUIRED,),
        *,
        alias: bool = True,
        flag: bool = False,
        only: Sequence[str] = (),
    ) -> list[str]:
        """Lines ``name[id-uuid]`` as RefStack's ``/tests?alias=&flag=`` gave them.

        ``flag=False`` leaves flagged tests out; ``alias=True`` adds a line per alias.
        """
        lines: dict[str, None] = {}
        for cap in self.capabilities_for(target, statuses, only):
            for test in cap.capability.tests:
                if test.flagged and not flag:
                    continue
                for name in test.names if alias else (test.name,):
                    lines[f"{name}[{test.idempotent_id}]"] = None
        return list(lines)


def _need(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise CertifyError(f"guideline: {where} has no {key!r}")
    return data[key]


def _statuses(raw: Any, where: str) -> dict[Status, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise CertifyError(f"guideline: {where} is not an object")
    return {s: tuple(str(n) for n in raw.get(s.value, []) or []) for s in Status}


def _tests(raw: Any, where: str) -> tuple[Test, ...]:
    if not isinstance(raw, dict):
        raise CertifyError(f"guideline: tests of {where} are not an object")
    tests = []
    for name, body in raw.items():
        if not isinstance(body, dict):
            raise CertifyError(f"guideline: test {name} of {where} is not an object")
        flag_raw = body.get("flagged") or body.get("flag")
        flag = None
        if isinstance(flag_raw, dict):
            flag = Flag(
                str(flag_raw.get("reason", "")),
                str(flag_raw.get("action", "")),
                str(flag_raw.get("date", "")),
            )
        tests.append(
            Test(
                name=str(name),
                idempotent_id=str(body.get("idempotent_id", "")),
                aliases=tuple(str(a) for a in body.get("aliases", []) or []),
                flag=flag,
            )
        )
    return tuple(tests)


def _capabilities(raw: Any) -> dict[str, Capability]:
    if not isinstance(raw, dict):
        raise CertifyError("guideline: 'capabilities' is not an object")
    caps = {}
    for name, body in raw.items():
        if not isinstance(body, dict):
            raise CertifyError(f"guideline: capability {name} is not an object")
        caps[name] = Capability(
            name=str(name),
            project=str(body.get("project", "")),
            description=str(body.get("description", body.get("descriptin", ""))),
            admin=bool(body.get("admin", False)),
            tests=_tests(_need(body, "tests", f"capability {name}"), name),
        )
    return caps


def _checked(guideline: Guideline) -> Guideline:
    """Every capability a component lists is defined: grading would otherwise drop it silently."""
    for component, by_status in guideline.components.items():
        for names in by_status.values():
            for name in names:
                if name not in guideline.capabilities:
                    raise CertifyError(
                        f"guideline: component {component} lists capability {name}, "
                        "which is not defined"
                    )
    return guideline


def parse_guideline(data: Any) -> Guideline:
    """A guideline from its decoded JSON; CertifyError names what is wrong."""
    if not isinstance(data, dict):
        raise CertifyError("guideline: the document is not a JSON object")
    schema = data.get("schema") or (data.get("metadata") or {}).get("schema")
    if schema is None:
        raise CertifyError("guideline: no 'schema' (expected 1.6 or 2.0)")
    schema = str(schema)
    if schema.startswith("2."):
        meta = _need(data, "metadata", "the document")
        components = {
            name: _statuses(_need(body, "capabilities", f"component {name}"), name)
            for name, body in _need(data, "components", "the document").items()
        }
        platforms_raw = data.get("platforms") or data.get("add-ons") or {}
        platforms = {
            name: tuple(str(c["name"]) for c in body.get("components", []))
            for name, body in platforms_raw.items()
        }
        tempest = (data.get("test_repositories") or {}).get("tempest") or {}
        return _checked(
            Guideline(
                id=str(meta.get("id", "")),
                schema=schema,
                tempest_reference=str(tempest.get("reference", "")),
                components=components,
                platforms=platforms,
                capabilities=_capabilities(_need(data, "capabilities", "the document")),
            )
        )
    if schema.startswith("1."):
        components = {
            name: _statuses(body, f"component {name}")
            for name, body in _need(data, "components", "the document").items()
        }
        platform = _statuses(_need(data, "platform", "the document"), "platform")
        tempest = (data.get("test-repositories") or {}).get("tempest") or {}
        return _checked(
            Guideline(
                id=str(data.get("id", "")),
                schema=schema,
                tempest_reference=str(tempest.get("git-sha", "")),
                components=components,
                platforms={"platform": platform[Status.REQUIRED]},
                capabilities=_capabilities(_need(data, "capabilities", "the document")),
            )
        )
    raise CertifyError(f"guideline: schema {schema} is not supported (1.6 or 2.0)")


BUNDLED = "interstack.certify.guidelines"


def bundled_guidelines() -> list[str]:
    """Ids of the guidelines shipped with interstack (``2020.06``, ...)."""
    files = resources.files(BUNDLED).iterdir()
    return sorted(f.name.removesuffix(".json") for f in files if f.name.endswith(".json"))


URL_TIMEOUT_SECONDS = 30


def _fetch(url: str) -> str:
    """The guideline document at an http(s) URL; CertifyError says in one line why not."""
    try:
        with urllib.request.urlopen(url, timeout=URL_TIMEOUT_SECONDS) as response:  # noqa: S310
            return str(response.read().decode())
    except urllib.error.HTTPError as exc:
        raise CertifyError(f"cannot fetch guideline {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        # the operating system's words: "[Errno 111] Connection refused", "timed out"
        raise CertifyError(f"cannot reach guideline {url}: {exc.reason}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CertifyError(f"cannot fetch guideline {url}: {exc}") from None


def _read(source: str) -> str:
    if source.startswith(("http://", "https://")):
        return _fetch(source)
    path = Path(source)
    if not path.exists() and source.removesuffix(".json") in bundled_guidelines():
        return resources.files(BUNDLED).joinpath(f"{source.removesuffix('.json')}.json").read_text()
    return path.read_text()


def load_guideline(source: str) -> Guideline:
    """Read a guideline from a file path, an http(s) URL or a bundled id such as ``2020.06``."""
    try:
        text = _read(source)
    except (OSError, ValueError) as exc:
        raise CertifyError(f"cannot read guideline {source}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CertifyError(f"guideline {source} is not valid JSON: {exc}") from None
    try:
        return parse_guideline(data)
    except CertifyError as exc:
        raise CertifyError(f"{source}: {exc.message}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        # a document shaped unlike schema 1.6/2.0 in a way the checks above did not name
        raise CertifyError(
            f"guideline {source} does not follow schema 1.6 or 2.0 ({type(exc).__name__}: {exc})"
        ) from None


def iter_tests(caps: Iterable[TargetCapability]) -> Iterator[tuple[TargetCapability, Test]]:
    for cap in caps:
        for test in cap.capability.tests:
            yield cap, test
