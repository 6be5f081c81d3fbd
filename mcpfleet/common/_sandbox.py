"""Confinement of a worker process by itself; standard library only (workers import it by path).

`confine(policy)` is called by a worker before it runs anything it was sent:
- `PR_SET_NO_NEW_PRIVS`: no set-uid binary or file capability can give it more rights;
- not dumpable: no core file, and other processes of its user cannot read its memory;
- when started as root, it gives up root: it becomes `nobody` (uid/gid 65534, no supplementary
  groups) when the parent found that `nobody` can read every file the worker needs, otherwise
  it stays uid 0 but drops every capability, so it cannot read another process's
  `/proc/<pid>/environ` or `/proc/<pid>/mem` (the parent is not dumpable either) or override
  file permissions;
- Landlock (Linux 5.13+, no privilege needed): the worker may read only `read_paths` (Python,
  its code, the system libraries) and write only `/dev/null`; everything else on disk, the
  Kubernetes service-account token and the server's config files included, is out of reach,
  and no file can be created. With `network=False` it may neither connect nor bind TCP; it
  cannot signal processes outside its sandbox, nor reach abstract unix sockets (ABI 6+).
- `network=False` also gives it a network namespace of its own where that is allowed (root, or
  unprivileged user namespaces): no interface but a down loopback. So code that escapes the
  language sandbox can connect nowhere: not to Redis, not to the cloud metadata service.
Whatever this kernel does not allow is skipped and reported to the pool (which logs it); the
deployment's NetworkPolicy and read-only root filesystem remain the outer lines.

Run as a program (`python -I _sandbox.py POLICY_JSON -- PROGRAM ARGS...`) it confines itself and
then executes PROGRAM, for workers that are not Python (the ui server's Node worker).
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import Any

NOBODY = 65534
_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_CAP_VERSION_3 = 0x20080522


# Landlock access rights (linux/landlock.h), by ABI version.
_FS_RIGHTS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_FS_READ = (1 << 0) | (1 << 2) | (1 << 3)  # execute, read file, read dir
_FS_WRITE_FILE = 1 << 1
_FS_TRUNCATE = 1 << 14
_NET_BIND_CONNECT_TCP = (1 << 0) | (1 << 1)
_SCOPE_ABSTRACT_UNIX_AND_SIGNAL = (1 << 0) | (1 << 1)
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_RULE_PATH_BENEATH = 1
# What any process needs to run at all (the dynamic loader's cache, time zones, CPU counts).
SYSTEM_READ_PATHS = (
    "/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin",
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd",
    "/etc/group", "/etc/nsswitch.conf", "/etc/ssl/openssl.cnf", "/etc/ssl/certs", "/proc", "/sys/devices/system/cpu",
    "/dev/urandom", "/dev/random",
)  # fmt: skip


def confine(policy: dict[str, Any]) -> list[str]:
    """Apply `policy`; returns the steps this system did not allow.

    policy: {"drop_to": uid or None, "network": bool, "read_paths": [paths] or absent (no
    Landlock)}.
    """
    skipped: list[str] = []
    libc = _libc()
    if libc is None:
        return ["confinement (no libc: not Linux)"]
    network = policy.get("network", True)
    if not network and not _unshare_network(libc):
        skipped.append("network namespace")
    if os.geteuid() == 0:
        drop_to = policy.get("drop_to")
        if drop_to is not None:
            os.setgroups([])
            os.setgid(drop_to)
            os.setuid(drop_to)  # from root: every capability goes with it
        elif not _drop_capabilities(libc):
            skipped.append("dropping capabilities")
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        skipped.append("no_new_privs")
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    read_paths = policy.get("read_paths")
    if read_paths is not None:
        problem = _landlock(libc, [*SYSTEM_READ_PATHS, *read_paths], network)
        if problem:
            skipped.append(problem)
    return skipped


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _landlock(libc: Any, read_paths: list[str], network: bool) -> str | None:
    abi = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return "Landlock filesystem sandbox"
    handled_fs = _FS_RIGHTS[max(v for v in _FS_RIGHTS if v <= abi)]
    attr = _RulesetAttr(handled_fs, 0, 0)
    size = 8
    if abi >= 4 and not network:
        attr.handled_access_net = _NET_BIND_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_AND_SIGNAL
        size = 24
    ruleset = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return "Landlock filesystem sandbox"
    try:
        rules = [(path, _FS_READ) for path in read_paths] + [("/dev/null", _FS_READ | _FS_WRITE_FILE | _FS_TRUNCATE)]
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # absent here: nothing to allow
            try:
                if not os.path.isdir(path):
                    access &= (1 << 0) | (1 << 1) | (1 << 2) | _FS_TRUNCATE  # file rights only
                rule = _PathBeneathAttr(access & handled_fs, fd)
                libc.syscall(
                    _SYS_LANDLOCK_ADD_RULE, ruleset, _LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)
                )
            finally:
                os.close(fd)
        if libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)) != 0:
            return "Landlock filesystem sandbox"
    finally:
        os.close(ruleset)
    return None


def readable_by(uid: int, paths: list[str]) -> bool:
    """Whether a process of `uid` (not root, no groups of the owner) can read each path."""
    for path in paths:
        path = os.path.realpath(path)
        if not os.path.exists(path):
            continue
        parts = path.split(os.sep)
        for i in range(2, len(parts) + 1):
            here = os.sep.join(parts[:i]) or os.sep
            try:
                st = os.stat(here)
            except OSError:
                return False
            is_leaf = i == len(parts)
            # Folders on the way need search (x); the path itself needs read (and x for a folder).
            need = (0o5 if os.path.isdir(here) else 0o4) if is_leaf else 0o1
            if st.st_uid == uid:
                need <<= 6
            if st.st_mode & need != need:
                return False
    return True


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _unshare_network(libc: Any) -> bool:
    if os.geteuid() == 0 and libc.unshare(_CLONE_NEWNET) == 0:
        return True
    if os.geteuid() == 0:
        return False
    # Unprivileged: a user namespace first (uid mapped to itself), then the network namespace.
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        return False
    try:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"{gid} {gid} 1")
    except OSError:
        pass  # the namespaces exist either way; an unmapped uid only has less
    return True


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities(libc: Any) -> bool:
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    return libc.capset(ctypes.byref(header), data) == 0


def _exec_confined(argv: list[str]) -> None:
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write("usage: _sandbox.py POLICY_JSON -- PROGRAM [ARGS...]\n")
        raise SystemExit(2)
    for problem in confine(json.loads(argv[1])):
        sys.stderr.write(f"mcpfleet sandbox: {problem} not available here\n")
    os.execvp(argv[3], argv[3:])


if __name__ == "__main__":
    _exec_confined(sys.argv)
