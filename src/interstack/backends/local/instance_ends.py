"""What an instance whose init exited becomes, by how it ended (:class:`.instances.Ending`, read
from the supervisor's record of the exit, :mod:`.exitrecord`): the lifecycle's jobs
(:mod:`.lifecycle`) notice the exit, and this says where it leaves the instance's record.
"""

from __future__ import annotations

from interstack.backends.local.exitrecord import ExitRecord
from interstack.backends.local.instance_record import InstanceRecord, Phase
from interstack.backends.local.instances import Ending, Instance

#: what a start or reboot whose guest ended before it was up is told (``boot_ended``)
POWERED_OFF_IN_BOOT = (
    "the guest powered off during its boot, before it was up: its console output "
    "(openstack console log show) says what it ran; start it again once that is fixed"
)
REBOOT_FAILED_IN_BOOT = (
    "the guest rebooted itself during its boot, before it was up, and booting it again failed "
    "({}): its console output (openstack console log show) says more; start it again"
)
CRASHED_IN_BOOT = (
    "the guest's init died during its boot, before it was up (a crash): its console output "
    "(openstack console log show) says why"
)


def after_exit(
    instance: Instance, record: InstanceRecord, ended: ExitRecord | None
) -> InstanceRecord:
    """What an instance whose init exited becomes, by how it ended (the lock held). A
    poweroff or a crash before the guest was up stops it too, as Nova's power-state sync
    stops a VM whose guest ended early: its server is SHUTOFF, not in ERROR, and a start or
    reboot waiting for it is told (``boot_ended``). A guest's own reboot is the
    supervisor's to make (:mod:`.rebooter`); one it could not make (it failed, or found the
    instance changed) stops the instance, as a VM whose own reboot failed is stopped, and
    the console says why. The gateway boots it again only for a supervisor from before the
    supervisor made reboots, which records no reboot at all: such a supervisor, the parent
    of instances that kept running across the gateway's upgrade, runs until they all end,
    and without this their guests' reboots would power them off."""
    ending = Ending.of(ended.exit_code) if ended is not None else None
    if ending is Ending.REBOOT and ended is not None and ended.reboot is None:
        instance.log("the guest rebooted itself: booting it again")
        # a boot's reboot still reports BUILDING or STOPPED to the task waiting for it
        if record.phase is Phase.BOOTING:
            return record.moved(Phase.REBOOTING, booting_as=record.booting_as)
        return record.moved(Phase.REBOOTING, booting_as=Phase.ACTIVE)
    instance.teardown()
    booting = record.phase is Phase.BOOTING
    early = " before the guest was up" if booting else ""
    if ending is Ending.REBOOT:
        # the boot of a create, start or reboot (a task waits), not the supervisor's reboot
        # of a running guest, which the gateway follows as BOOTING too
        booting = booting and record.booting_as is not Phase.ACTIVE
        early = " before the guest was up" if booting else ""
        why = (ended.error if ended else None) or "the server was changed meanwhile"
        instance.log(f"the guest rebooted itself{early}; booting it again failed ({why})")
        return record.moved(
            Phase.STOPPED, boot_ended=REBOOT_FAILED_IN_BOOT.format(why) if booting else None
        )
    if ending is Ending.CRASHED:
        instance.log(f"the instance's init died{early} (a crash): stopped")
        return record.moved(
            Phase.STOPPED, crashed=True, boot_ended=CRASHED_IN_BOOT if booting else None
        )
    instance.log(f"the instance's init exited{early} (a poweroff): stopped")
    return record.moved(Phase.STOPPED, boot_ended=POWERED_OFF_IN_BOOT if booting else None)
