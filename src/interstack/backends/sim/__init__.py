"""``sim``: a simulated cloud that keeps its state in the gateway's store.

It serves API tests, demos and hosts that cannot run real instances, and it is the reference
for the semantics every backend must follow (the contract in ``backends/contract/`` states them
per method; this is what they look like in motion). A region uses it with::

    regions:
      - name: RegionOne
        backend: sim
        settings:
          boot_delay_seconds: 1.0       # BUILDING -> ACTIVE (or ERROR) after this long
          action_delay_seconds: 0.0     # power actions: REBOOTING -> ACTIVE etc.
          volume_delay_seconds: 0.5     # CREATING -> AVAILABLE for volumes
          snapshot_delay_seconds: 0.5
          fail_on:                      # fault injection, per operation
            create_server: {name: "fail-*", message: "No valid host was found."}
            put_object: "disk full"     # a bare message matches every name
            start: "disk not mounted"   # the region does not start (matched on its name)
          without: [pause]              # capability flags to turn off
          floating_ip_cidr: 203.0.113.0/24  # the cloud's own addresses (without floating_ip_choice)
          external_network: {name: public, cidr: 198.51.100.0/24}  # created at start-up

Semantics, as every backend must show them:

- **Time passes.** ``create_server`` returns ``BUILDING`` and the server becomes ``ACTIVE`` only
  after ``boot_delay_seconds``, so clients' wait loops really wait. Volumes and snapshots go
  ``CREATING`` -> ``AVAILABLE`` the same way. The transition is stored (``pending_status``,
  ``ready_at``) and applied when the row is next read: a restarted gateway sees the same state.
- **Failures are states, when the cloud would report them as states.** A server whose boot fails
  is created, goes ``BUILDING`` -> ``ERROR`` and carries the fault message; it must still be
  deleted. Synchronous operations that fail (``put_object``, ``attach_volume``, a power action)
  raise ``BackendError`` and change nothing.
- **Idempotence.** ``create_*`` with a gateway id already realized returns the existing
  resource; deleting something already gone succeeds silently.
- **State rules are enforced.** Pausing a stopped server, attaching an attached volume, deleting
  an attached volume or a non-empty container: ``Conflict``. Operations outside the capabilities
  (``without``): ``NotSupported``.
- **Data is streamed.** Image and object bytes go to files under the backend's data dir
  (``<data_dir>/backends/<region>/``), written beside their target and renamed into place, read
  back in ``chunk_size`` pieces; a reader of an object being replaced finishes reading the old
  content.
- **Native refs are opaque.** Refs look like ``sim-server-<hex>``; they are stored by the services
  layer and never shown to API clients.

Everything lives in the ``sim_resources`` table (one row per resource, ``region`` column), so
several sim regions share one store without seeing each other.
"""

from interstack.backends.sim.backend import SimBackend
from interstack.backends.sim.settings import FaultRule, SimOperation, SimSettings

__all__ = ["FaultRule", "SimBackend", "SimOperation", "SimSettings"]
