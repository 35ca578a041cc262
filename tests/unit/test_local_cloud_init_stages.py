"""The guest's cloud-init stages script (:mod:`interstack.backends.local.cloudinitstages`) run
by this host's Python over a stand-in of cloud-init's modules: what it changes of cloud-init
before the stages run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from interstack.backends.local.cloudinitstages import CLOUD_INIT_STAGES

#: cloud-init's util as far as the script uses it: ``is_resolvable`` first asks the resolver
#: for names that must not exist (here: written down), ``is_resolvable_url`` calls it by its
#: module's name at each call, as cloud-init's does
UTIL = """
from urllib import parse

LOOKED_UP = []


def is_resolvable(name):
    LOOKED_UP.extend(["does-not-exist.example.com.", name])
    return name != "nowhere.invalid"


def is_resolvable_url(url):
    return is_resolvable(parse.urlparse(url).hostname)
"""
#: ``cloud-init init``: what a datasource asks of the URLs it is given
MAIN = """
from cloudinit import util


ADDRESSES = (
    "http://169.254.169.254",
    "http://169.254.169.254:80/openstack",
    "http://[fd00:ec2::254]",
    "http://[FD00:EC2::254]:8775/latest",
)
NAMES = ("http://metadata.example", "http://metadata.example:8775", "http://nowhere.invalid")


def main(argv):
    for url in ADDRESSES + NAMES:
        print("resolvable", url, util.is_resolvable_url(url))
    print("looked up", *util.LOOKED_UP)
    return 0
"""


def test_a_metadata_address_is_resolvable_without_asking_the_resolver(tmp_path: Path) -> None:
    """The datasources' metadata URLs are addresses: cloud-init's guard against resolvers that
    answer every name looked names up before it took one, and with the subnet's DNS server
    not answering the network stage waited out the resolver's timeouts (~15 s; a stop or a
    reboot meanwhile waited for it). A name still goes through cloud-init's own check."""
    package = tmp_path / "site" / "cloudinit"
    (package / "cmd").mkdir(parents=True)
    for empty in (package / "__init__.py", package / "cmd" / "__init__.py"):
        empty.write_text("")
    (package / "util.py").write_text(UTIL)
    (package / "cmd" / "main.py").write_text(MAIN)
    script = tmp_path / "cloud-init-stages"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(package.parent)!r})\n{CLOUD_INIT_STAGES}"
    )

    done = subprocess.run(
        [sys.executable, "-I", str(script), "network"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # IPv4 and IPv6 literals, with a port and a path or without (cloud-init reads the host
    # with urlparse: no brackets, lower case)
    for url in ("http://169.254.169.254", "http://169.254.169.254:80/openstack"):
        assert f"resolvable {url} True" in lines, lines
    for url in ("http://[fd00:ec2::254]", "http://[FD00:EC2::254]:8775/latest"):
        assert f"resolvable {url} True" in lines, lines
    assert "resolvable http://metadata.example True" in lines
    assert "resolvable http://metadata.example:8775 True" in lines
    assert "resolvable http://nowhere.invalid False" in lines
    guard = "does-not-exist.example.com."
    assert lines[-1].split() == ["looked", "up", guard, "metadata.example", guard,
                                 "metadata.example", guard, "nowhere.invalid"]  # fmt: skip
