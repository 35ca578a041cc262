"""Tags of network resources (the ``standard-attr-tag`` sub-resource ``/<collection>/<id>/tags``).

Each collection names the loader that finds one of its rows as the caller may see it; changing
tags needs the resource's project (or admin), as any other change does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from interstack.errors import BadRequest, NotFound
from interstack.services.context import RequestContext
from interstack.services.network.common import check_owner, now
from interstack.store import Database

#: finds a row of one collection, visible to the caller, or raises NotFound
Loader = Callable[[Session, RequestContext, str, str], object]

MAX_TAG_LENGTH = 255


def _valid(tag: str) -> str:
    if not tag or len(tag) > MAX_TAG_LENGTH or "," in tag or "/" in tag:
        raise BadRequest(f"Invalid tag {tag!r}: 1 to 255 characters, without ',' or '/'.")
    return tag


class TagService:
    def __init__(self, db: Database, loaders: dict[str, Loader]) -> None:
        self.db = db
        self.loaders = loaders

    def _load(
        self, session: Session, ctx: RequestContext, region: str, kind: str, item: str
    ) -> object:
        loader = self.loaders.get(kind)
        if loader is None:
            raise NotFound(f"Resource {kind} does not support tags.")
        return loader(session, ctx, region, item)

    def get(self, ctx: RequestContext, region: str, kind: str, item: str) -> list[str]:
        with self.db.session() as session:
            row = self._load(session, ctx, region, kind, item)
            return list(getattr(row, "tags", None) or [])

    def check(self, ctx: RequestContext, region: str, kind: str, item: str, tag: str) -> None:
        if tag not in self.get(ctx, region, kind, item):
            raise NotFound(f"Tag {tag} could not be found for resource {item}.", kind="TagNotFound")

    def _change(
        self,
        ctx: RequestContext,
        region: str,
        kind: str,
        item: str,
        change: Callable[[list[str]], list[str]],
    ) -> list[str]:
        with self.db.session() as session:
            row = self._load(session, ctx, region, kind, item)
            check_owner(ctx, str(getattr(row, "project_id", "")), kind, item)
            tags = change(list(getattr(row, "tags", None) or []))
            setattr(row, "tags", tags)  # noqa: B010 - the row's type differs per collection
            setattr(row, "updated_at", now())  # noqa: B010
            return tags

    def replace(
        self, ctx: RequestContext, region: str, kind: str, item: str, tags: Sequence[str]
    ) -> list[str]:
        wanted = sorted({_valid(t) for t in tags})
        return self._change(ctx, region, kind, item, lambda _old: wanted)

    def add(self, ctx: RequestContext, region: str, kind: str, item: str, tag: str) -> None:
        _valid(tag)
        self._change(ctx, region, kind, item, lambda old: old if tag in old else [*old, tag])

    def remove(self, ctx: RequestContext, region: str, kind: str, item: str, tag: str) -> None:
        def without(old: list[str]) -> list[str]:
            if tag not in old:
                raise NotFound(
                    f"Tag {tag} could not be found for resource {item}.", kind="TagNotFound"
                )
            return [t for t in old if t != tag]

        self._change(ctx, region, kind, item, without)

    def clear(self, ctx: RequestContext, region: str, kind: str, item: str) -> None:
        self._change(ctx, region, kind, item, lambda _old: [])
