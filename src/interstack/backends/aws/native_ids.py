"""EC2's own ids kept out of the faults API users read.

The gateway shows its own ids (UUIDs); EC2's (``i-…``, ``subnet-…``, ``vol-…``) live in the
store's mapping rows (ARCHITECTURE.md). AWS's error messages and the drivers' own texts name
them, and a fault's message reaches an API user (a 4xx/5xx body, a server's or a volume's
fault). A driver's error leaves the backend with each EC2 id replaced by a neutral word for its
kind ("the instance"); AWS's error code stays, the native text goes to the gateway's log for the
operator.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from interstack.errors import BackendError, InterstackError

log = logging.getLogger(__name__)

#: EC2 id prefixes (longest first: ``vpc-cidr-assoc-`` before ``vpc-``) and the word a fault says
_KINDS = {
    "vpc-cidr-assoc": "the VPC's address block",
    "subnet-cidr-assoc": "the subnet's address block",
    "rtbassoc": "the route table's association",
    "eipassoc": "the elastic IP's association",
    "eipalloc": "the elastic IP",
    "import-ami": "the image import",
    "import-snap": "the snapshot import",
    "subnet": "the subnet",
    "attach": "the attachment",
    "export": "the export",
    "snap": "the snapshot",
    "vpce": "the VPC endpoint",
    "vpc": "the VPC",
    "eni": "the network interface",
    "igw": "the internet gateway",
    "nat": "the NAT gateway",
    "rtb": "the route table",
    "acl": "the network ACL",
    "vol": "the volume",
    "ami": "the image",
    "key": "the key pair",
    "sg": "the security group",
    "r": "the reservation",
    "i": "the instance",
}
#: the words the drivers put before an id ("AMI ami-…", "server i-…"): the replacement says it
_LABEL = r"(?:(?:AMI|VPC|EBS snapshot|snapshot|subnet|volume|server|instance|security group) )?"
#: an EC2 id: its kind's prefix and 8 or 17 hex digits (moto's and AWS's)
NATIVE_ID = re.compile(
    r"(?<![\w-])"
    + _LABEL
    + r"("
    + "|".join(re.escape(k) for k in _KINDS)
    + r")-[0-9a-f]{8,17}(?![\w-])"
)


def without_native_ids(text: str) -> str:
    """``text`` with each EC2 id (and the label before it) replaced by the word for its kind."""
    return NATIVE_ID.sub(lambda m: _KINDS[m.group(1)], text)


def hidden(exc: InterstackError) -> InterstackError:
    """``exc`` with EC2 ids out of its message (the same object); the native text logged."""
    scrubbed = without_native_ids(exc.message)
    if scrubbed != exc.message:
        level = logging.WARNING if isinstance(exc, BackendError) else logging.INFO
        log.log(level, "AWS error as EC2 named it: %s", exc.message)
        exc.message = scrubbed
        exc.args = (scrubbed,)
    return exc


class NativeIdsHidden:
    """A driver whose methods raise errors without EC2 ids (:func:`hidden`); anything else of
    the driver is the driver's own."""

    def __init__(self, driver: object) -> None:
        self._driver = driver

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._driver, name)
        if not callable(found) or name.startswith("_"):
            return found

        @functools.wraps(found)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return found(*args, **kwargs)
            except InterstackError as exc:
                hidden(exc)
                raise

        return call


def unwrapped(driver: object) -> object:
    """The driver a :class:`NativeIdsHidden` holds (for tests that reach into it), else itself."""
    return driver._driver if isinstance(driver, NativeIdsHidden) else driver
