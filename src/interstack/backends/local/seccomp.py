"""The seccomp profile every instance runs under.

runc applies no seccomp filter when the bundle names none, so the backend writes its own: every
system call is allowed except those that reach past the instance into the host's kernel state
(mounting, kernel keyrings, BPF, kexec, module loading, tracing, clocks, swap, new namespaces).
Most of them also need a capability the instance does not have; the filter is the second wall,
for the day a capability slips in or a kernel bug skips the check.
"""

from __future__ import annotations

import errno
import platform
from typing import Any

DENIED_SYSCALLS = (
    # filesystems: mounting outside, the new mount API, handles that escape a chroot
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "open_by_handle_at",
    "name_to_handle_at",
    "quotactl",
    "swapon",
    "swapoff",
    # the kernel itself: keyrings, BPF, kexec, modules, reboot, perf, raw I/O ports
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "perf_event_open",
    "lookup_dcookie",
    "iopl",
    "ioperm",
    "acct",
    "syslog",
    "userfaultfd",
    "vm86",
    "vm86old",
    "uselib",
    "nfsservctl",
    # other processes' memory and clocks
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "settimeofday",
    "clock_settime",
    "clock_settime64",
    "clock_adjtime",
    "clock_adjtime64",
    "adjtimex",
    "stime",
    # new namespaces (clone with CLONE_NEW* is filtered below)
    "unshare",
    "setns",
)

#: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
CLONE_NAMESPACE_FLAGS = (
    0x00020000,
    0x02000000,
    0x04000000,
    0x08000000,
    0x10000000,
    0x20000000,
    0x40000000,
    0x00000080,
)

ARCHITECTURES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
}


def seccomp_profile() -> dict[str, Any]:
    """The OCI ``linux.seccomp`` object: allow by default, EPERM for the calls above."""
    rules: list[dict[str, Any]] = [
        {"names": list(DENIED_SYSCALLS), "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM},
        # clone3 passes its flags in memory a filter cannot read: make libc fall back to clone
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
    ]
    # a rule's conditions are ANDed and rules are ORed: one rule per namespace flag
    rules.extend(
        {
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.EPERM,
            "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
        }
        for flag in CLONE_NAMESPACE_FLAGS
    )
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ARCHITECTURES.get(platform.machine(), []),
        "syscalls": rules,
    }
