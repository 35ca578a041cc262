"""The names a server's disks get when nothing names them: the root device's prefix and the
first letter no device of the server uses, as Nova's ``get_next_device_name`` makes them."""

from __future__ import annotations

import string

import pytest

from interstack.services.compute.device_names import device_prefix, next_device_name


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
