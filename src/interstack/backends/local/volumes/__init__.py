"""Block storage on the local backend: volumes as sparse files on loop devices (:mod:`.driver`).

- :mod:`.attachments` — which server a volume is on, and what a server's boot is given;
- :mod:`.records` — each volume's and snapshot's directory and record;
- :mod:`.fill` — what goes into a new volume's file (nothing, a copy, an image);
- :mod:`.plug` — loop devices, device nodes in instances, the devices cgroup;
- :mod:`.nsmount` — mounts inside an instance's mount namespace, run as its own process;
- :mod:`.guestmount` — how a guest mounts its volumes without ``CAP_SYS_ADMIN``.
"""

from interstack.backends.local.volumes.driver import LocalBlockStorage
from interstack.backends.local.volumes.plug import hot_plug_supported

__all__ = ["LocalBlockStorage", "hot_plug_supported"]
