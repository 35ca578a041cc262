"""Setting a running guest's administrator password (Nova's ``changePassword``) without SSH.

The host runs ``chpasswd`` inside the instance with ``runc exec``: the same namespaces, limits
and capabilities as the guest's own processes, so it can do no more than the guest's root could.
The password travels on chpasswd's stdin only, never in an argument list (visible in
``/proc``), a log line, a console or a file of the backend.
"""

from __future__ import annotations

from pathlib import Path

from interstack.backends.local import clocks
from interstack.backends.local.host import run
from interstack.errors import BackendError, BadRequest, Conflict

#: the account Nova's libvirt driver sets when the image names none (``os_admin_user``)
ADMIN_USER = "root"
CHPASSWD = "/usr/sbin/chpasswd"


def set_password(runc_root: Path, container: str, password: str, user: str = ADMIN_USER) -> None:
    """Give ``user`` in the running ``container`` the password ``password`` (hashed by the
    guest's own chpasswd, as its ``passwd`` would)."""
    if not password or any(c in password for c in "\n\r\0"):
        raise BadRequest("The admin password must be a non-empty line of text.")
    try:
        run(
            clocks.runc_argv(runc_root, container, "exec", container, CHPASSWD),
            what=f"set the password of {user} in the instance",
            input_bytes=f"{user}:{password}\n".encode(),
        )
    except BackendError as exc:
        raise Conflict(
            f"The guest did not take the new password ({exc.message}); its image needs {CHPASSWD}."
        ) from exc
