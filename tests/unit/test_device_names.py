"""The names a server's disks get when nothing names them: the root device's prefix and the
first letter no device of the server uses, as Nova's ``get_next_device_name`` makes them."""

from __future__ import annotations

import string

import pytest

from interstack.services.compute.device_names import device_prefix, is_under_dev, next_device_name


@pytest.mark.parametrize(
    ("root", "prefix"),
    [
        ("/dev/vda", "/dev/vd"),
        ("/dev/sda", "/dev/sd"),
        ("sda", "/dev/sd"),
        ("/dev/sda1", "/dev/sd"),
        ("/dev/xvda", "/dev/xvd"),
        ("/dev/hda", "/dev/hd"),
        # no bus's name: where Nova fails, the default prefix
        ("/dev/nvme0n1", "/dev/vd"),
        ("/dev/disk", "/dev/vd"),
    ],
)
def test_the_prefix_is_the_root_devices(root: str, prefix: str) -> None:
    assert device_prefix(root) == prefix


def test_the_next_name_takes_the_roots_prefix_and_a_letter_no_device_uses() -> None:
    assert next_device_name("/dev/sda", []) == "/dev/sdb"
    assert next_device_name("/dev/xvda", ["/dev/xvdb"]) == "/dev/xvdc"
    # a letter in use under another prefix is in use (Nova counts letters, not names)
    assert next_device_name("/dev/sda", ["/dev/vdb", "vdc"]) == "/dev/sdd"
    # the root's own letter, and never "a" (the default root's)
    assert next_device_name("/dev/vdb", []) == "/dev/vdc"
    assert next_device_name("/dev/nvme0n1", ["/dev/nvme1n1"]) == "/dev/vdb"


def test_no_name_is_left_after_z() -> None:
    every = [f"/dev/vd{letter}" for letter in string.ascii_lowercase[1:]]
    assert next_device_name("/dev/vda", every[:-1]) == "/dev/vdz"
    assert next_device_name("/dev/vda", every) is None


@pytest.mark.parametrize("name", ["/dev/vdb", "vdb", "/dev/nvme0n1", "/dev/xvdb_1", "/dev/VDB"])
def test_one_device_under_dev_is_under_dev(name: str) -> None:
    assert is_under_dev(name)


@pytest.mark.parametrize(
    "name",
    [
        "/dev/vdb\n",  # Python's $ matches before a final newline
        "vdb\n",
        "/dev/",
        "/dev",
        "//dev/vdb",
        "/dev//vdb",
        "/dev/vdb/",
        "/dev/vd/b",
        "/dev/..",
        "/dev/../../tmp/x",
        "/dev/.hidden",
        "/dev/vd\x00b",
        "/dev/vd\u00e9",  # a letter, not an ASCII one
        "/dev/\u0663",  # a digit, not an ASCII one
        "/dev/vdb ",
    ],
)
def test_anything_else_is_not(name: str) -> None:
    """Backends make host paths by these names (the local one nodes and /sys/block entries)."""
    assert not is_under_dev(name)
