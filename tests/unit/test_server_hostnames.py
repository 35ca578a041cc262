"""The one rule that makes a guest's host name from a server's display name: the API shows it,
the metadata service tells cloud-init and the local backend sets it, so they never differ."""

from __future__ import annotations

import pytest

from interstack.backends.contract.compute import hostname_for


@pytest.mark.parametrize(
    ("name", "hostname"),
    [
        ("Web Server_1", "web-server-1"),
        # dots and underscores separate like spaces; other punctuation goes (as Nova)
        ("db@2.internal", "db2-internal"),
        ("a/b", "ab"),
        ("--edge--", "edge"),
        ("x" * 70, "x" * 63),
        # a label never ends in '-' after it is cut to 63 characters
        ("y" * 62 + " z", "y" * 62),
        # letters outside ASCII go: the result is always a name a resolver accepts
        ("Café", "caf"),
        ("@@@", "server"),
    ],
)
def test_a_display_name_gives_one_rfc1123_label(name: str, hostname: str) -> None:
    assert hostname_for(name) == hostname
