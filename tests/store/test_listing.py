"""Marker paging over every sort order, NULLs included, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from interstack.errors import BadRequest, NotFound
from interstack.services.listing import Page, SortDir, paginate, parse_sort


class _Base(DeclarativeBase):
    pass


class Thing(_Base):
    __tablename__ = f"listing_things_{uuid.uuid4().hex[:8]}"
    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(8))
    size: Mapped[int | None]


ROWS = [
    ("a", "x", 3),
    ("b", None, 1),
    ("c", "x", None),
    ("d", "y", 1),
    ("e", None, None),
    ("f", "a", 3),
    ("g", "x", 1),
]
COLUMNS = {"name": Thing.name, "size": Thing.size, "id": Thing.id}


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = create_engine(database_url)
    _Base.metadata.create_all(engine)
    session = Session(engine)
    session.add_all(Thing(id=i, name=n, size=s) for i, n, s in ROWS)
    session.commit()
    yield session
    session.close()
    _Base.metadata.drop_all(engine)
    engine.dispose()


def _walk(session: Session, sort: list[tuple[str, SortDir]], limit: int) -> list[str]:
    seen: list[str] = []
    marker: str | None = None
    for _ in range(len(ROWS) + 2):
        marker_row = session.get(Thing, marker) if marker else None
        stmt = paginate(select(Thing), Page(limit, marker, sort), COLUMNS, Thing.id, marker_row)
        batch = [t.id for t in session.scalars(stmt)]
        if not batch:
            return seen
        seen.extend(batch)
        marker = batch[-1]
    raise AssertionError("paging did not end")


@pytest.mark.parametrize(
    "sort",
    [
        [],
        [("name", "asc")],
        [("name", "desc")],
        [("size", "asc"), ("name", "desc")],
        [("size", "desc"), ("name", "asc")],
        [("name", "desc"), ("size", "desc")],
    ],
)
def test_pages_of_every_size_walk_the_whole_order_once(
    session: Session, sort: list[tuple[str, SortDir]]
) -> None:
    full = [
        t.id
        for t in session.scalars(
            paginate(select(Thing), Page(None, None, sort), COLUMNS, Thing.id, None)
        )
    ]
    assert sorted(full) == [r[0] for r in ROWS]
    for limit in (1, 2, 3):
        assert _walk(session, sort, limit) == full


def test_nulls_sort_smallest_on_every_database(session: Session) -> None:
    stmt = paginate(select(Thing), Page(sort=[("name", "asc")]), COLUMNS, Thing.id, None)
    names = [t.name for t in session.scalars(stmt)]
    assert names[:2] == [None, None]
    assert names[2:] == sorted(n for n in names if n is not None)


def test_bad_sort_key_and_unknown_marker(session: Session) -> None:
    with pytest.raises(BadRequest, match="Invalid sort key"):
        paginate(select(Thing), Page(sort=[("secret", "asc")]), COLUMNS, Thing.id, None)
    with pytest.raises(NotFound, match="Marker zz"):
        paginate(select(Thing), Page(marker="zz"), COLUMNS, Thing.id, None)
    with pytest.raises(BadRequest):
        Page(limit=-1)


def test_parse_sort_pairs_keys_with_directions() -> None:
    assert parse_sort(["name", "size"], ["desc"]) == [("name", "desc"), ("size", "asc")]
    with pytest.raises(BadRequest):
        parse_sort(["name"], ["asc", "desc"])
    with pytest.raises(BadRequest):
        parse_sort(["name"], ["sideways"])
    assert parse_sort([], []) == []
