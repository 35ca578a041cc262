"""The typed contract every backend implements.

A backend is one cloud that does the work for one region. It is composed of small per-domain
drivers, never a god class built from mixins::

    backend.capabilities      Capabilities  what this backend can do (flags; services adapt)
    backend.polling           Polling       how often tasks look at what the cloud changes
    backend.compute           ComputeDriver        servers, power actions, console output
    backend.network           NetworkDriver        networks, subnets, ports, routers, floating
                                                   IPs, security groups
    backend.block_storage     BlockStorageDriver   volumes, snapshots, attach/detach
    backend.image             ImageDriver          image data, streamed
    backend.object_store      ObjectStoreDriver    containers and objects, streamed
    backend.start() / close() lifecycle, called by the app lifespan

Vocabulary (as in nova's ``virt/driver.py``):

- A **gateway id** is the UUID the store owns and clients see. Drivers receive it in every spec
  so they can tag native resources with it (for reconciliation and for idempotency).
- A **native ref** (:data:`NativeRef`) is the backend's own handle (``i-0abc…``, a netns name,
  a sim row id). Drivers return it from ``create_*``; the services layer stores it in a mapping
  row and hands it back on every later call. It never appears in an API response.

Rules every driver method follows (each method's docstring adds its own postconditions):

1. **Idempotent creation.** ``create_*`` called again with a gateway id the backend already
   holds returns the existing resource instead of making a second one, so a task resumed after
   a crash cannot duplicate work.
2. **Idempotent deletion.** Deleting something already gone is not an error.
3. **Cleanup on failure.** A ``create_*`` that raises leaves nothing behind in the cloud. A
   resource that fails *after* ``create_*`` returned (a server that cannot boot) is reported
   with an ``ERROR`` status and a fault message; it still has to be deleted by the caller.
4. **Errors.** Drivers raise only :mod:`interstack.errors`: ``NotFound`` for an unknown native
   ref, ``Conflict`` for an operation the resource's state forbids, ``NotSupported`` for an
   operation outside the backend's capabilities, ``BackendUnavailable`` when the cloud cannot be
   reached (the task runner retries those), ``BackendError`` for everything else. SDK errors are
   translated with ``raise ... from exc``. A creation the cloud has no room for (its hosts'
   capacity, as OpenStack's schedulers find none) is a ``BackendError`` with the scheduler's
   message (:data:`NO_VALID_HOST`, :data:`NO_VALID_BACKEND`): the server goes to ``ERROR``
   with that fault, the volume to ``error``, as in OpenStack.
5. **No waiting.** Methods return as soon as the cloud accepted the request; lifecycles that take
   time are observed by polling ``get_*`` (the task runner does that, never a request handler).
6. **Streams.** Image and object data travel as iterables of ``bytes`` chunks in and
   :class:`ByteStream` out; no method holds a whole object in memory.
"""

from interstack.backends.contract.backend import Backend, BackendContext, Capabilities, Polling
from interstack.backends.contract.common import ByteStream, NativeRef
from interstack.backends.contract.compute import (
    NO_VALID_HOST,
    BootVolume,
    ComputeDriver,
    FlavorSpec,
    LocalDisk,
    NativeSize,
    PowerAction,
    ServerInfo,
    ServerSpec,
    ServerStatus,
)
from interstack.backends.contract.metadata import (
    METADATA_ADDRESS,
    METADATA_NETWORK_HEADER,
    METADATA_PORT,
    METADATA_SOCKET,
    METADATA_SOURCE_HEADER,
    metadata_socket,
)
from interstack.backends.contract.network import (
    AddressPair,
    ExternalNetworkSpec,
    FixedIp,
    FloatingIpInfo,
    NetworkDriver,
    NetworkSpec,
    PortSpec,
    RouterSpec,
    RuleDirection,
    SecurityGroupRule,
    SecurityGroupSpec,
    SubnetSpec,
)
from interstack.backends.contract.objects import ObjectInfo, ObjectStoreDriver
from interstack.backends.contract.storage import (
    NO_VALID_BACKEND,
    AttachmentInfo,
    AttachState,
    BlockStorageDriver,
    ImageDriver,
    ImageInfo,
    ProvidedImage,
    SnapshotInfo,
    SnapshotSpec,
    VolumeInfo,
    VolumeSpec,
    VolumeStatus,
)

__all__ = [
    "METADATA_ADDRESS",
    "METADATA_NETWORK_HEADER",
    "METADATA_PORT",
    "METADATA_SOCKET",
    "METADATA_SOURCE_HEADER",
    "NO_VALID_BACKEND",
    "NO_VALID_HOST",
    "AddressPair",
    "AttachState",
    "AttachmentInfo",
    "Backend",
    "BackendContext",
    "BlockStorageDriver",
    "BootVolume",
    "ByteStream",
    "Capabilities",
    "ComputeDriver",
    "ExternalNetworkSpec",
    "FixedIp",
    "FlavorSpec",
    "FloatingIpInfo",
    "ImageDriver",
    "ImageInfo",
    "LocalDisk",
    "NativeRef",
    "NativeSize",
    "NetworkDriver",
    "NetworkSpec",
    "ObjectInfo",
    "ObjectStoreDriver",
    "Polling",
    "PortSpec",
    "PowerAction",
    "ProvidedImage",
    "RouterSpec",
    "RuleDirection",
    "SecurityGroupRule",
    "SecurityGroupSpec",
    "ServerInfo",
    "ServerSpec",
    "ServerStatus",
    "SnapshotInfo",
    "SnapshotSpec",
    "SubnetSpec",
    "VolumeInfo",
    "VolumeSpec",
    "VolumeStatus",
    "metadata_socket",
]
