"""``local``: a real small cloud on this Linux host; servers are isolated system containers.

A region uses it with ``backend: local`` (settings in :class:`LocalSettings`). It needs root,
runc, tini and iproute2 (and mmdebstrap to build the default image); ``host.unavailable_reason``
says what is missing.

- **Instances** run under runc from an OCI bundle the backend writes (:mod:`.bundle`): own PID,
  mount, UTS, IPC, cgroup and network namespaces, the default container capability set, a
  seccomp profile that denies what reaches the host kernel (:mod:`.seccomp`), a device
  allow-list, cgroup limits from the flavor. The root is an overlay of the image's read-only root
  and the instance's own layer, which is the server's disk. A supervisor process
  (:mod:`.supervisor`) is their parent and reaps them.
- **Images** (:mod:`.images`): Glance's bytes are kept as uploaded; a tarball, raw or qcow2 disk
  becomes a read-only root on first boot. ``debian-12`` is built with mmdebstrap on first use
  (:mod:`.imagebuild`, or ``interstack image build``) and boots servers that name no image.
- **Guests** (:mod:`.guest`): a small init runs cloud-init's stages, then sshd; cloud-init gets
  the hostname, the keypair and the user-data from a NoCloud seed in the disk layer until the
  metadata service at 169.254.169.254 arrives with networking.
- **Networks** (:mod:`.network`): a bridge per Neutron network, routers as namespaces with SNAT,
  floating IPs on the external network the host reaches, security groups as host nftables
  rules, dnsmasq per subnet. Each server has its own network namespace
  (``instances.server_netns_name``); its ports are plugged into it on boot (and hot-plugged
  while it runs) and unplugged on delete through :class:`.seams.ServerPorts`, which the
  network driver provides. Instances' NATed traffic goes only to the ``egress_cidrs``.
- **Volumes** (:mod:`.volumes`): sparse files, on a loop device while attached; the device
  appears at the requested name with exactly its major:minor in the instance's allow-list (hot
  on cgroup v1, at the next boot on v2), and the guest mounts ext2/3/4 volumes through a
  ``mount(8)`` helper that the host answers, since it has no ``CAP_SYS_ADMIN``
  (:mod:`.volumes.guestmount`).
- **Guest access without SSH**: ``changePassword`` runs chpasswd inside the instance
  (:mod:`.guest_password`); the console log stays below its cap (:mod:`.console`).

State lives in the backend's data directory; a restarted gateway adopts running instances.
"""

from interstack.backends.local.backend import LocalBackend
from interstack.backends.local.seams import ServerPorts
from interstack.backends.local.settings import LocalSettings, image_cache_for

__all__ = ["LocalBackend", "LocalSettings", "ServerPorts", "image_cache_for"]
