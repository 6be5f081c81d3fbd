"""Pod Security Standards (https://kubernetes.io/docs/concepts/security/pod-security-standards/):
one rule per pod-security-admission control, for every pod-bearing kind, versioned.

Each rule names its upstream check (`control=`) and receives the chosen Kubernetes version as a
(major, minor) tuple: allowed values and exemptions follow kubernetes/pod-security-admission's
policy code for that version (sysctls allowed from 1.27/1.29/1.32/1.37, container_engine_t from
1.31, `hostUsers: false` relaxing procMount/runAsNonRoot/runAsUser from 1.35, probe and lifecycle
hosts from 1.34, Windows pods exempt from three restricted checks). Names are compared exactly,
as the admission controller does: `chown`, `CAP_CHOWN` and `drop: [All]` are not what they look like.

Where a restricted control replaces a baseline one upstream (capabilities, seccompProfile,
hostPathVolumes → restrictedVolumes, procMount from 1.35), the restricted profile turns the
baseline rule off, so each problem is reported once, under the control that judges it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mcpfleet.servers.k8s.documents import Document
from mcpfleet.servers.k8s.rules import Hit, rule
from mcpfleet.servers.k8s.rules.pods import (
    PodSpec,
    all_containers,
    containers,
    ensure_map,
    ensure_seq,
    get,
    pod_meta,
    pod_specs,
    seq,
)

Version = tuple[int, int]

BASELINE_CAPS = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
# sysctls the baseline allows, by the version that added them (upstream check_sysctls.go)
SYSCTLS_SINCE: dict[str, Version] = {
    "kernel.shm_rmid_forced": (1, 0),
    "net.ipv4.ip_local_port_range": (1, 0),
    "net.ipv4.tcp_syncookies": (1, 0),
    "net.ipv4.ping_group_range": (1, 0),
    "net.ipv4.ip_unprivileged_port_start": (1, 0),
    "net.ipv4.ip_local_reserved_ports": (1, 27),
    "net.ipv4.tcp_keepalive_time": (1, 29),
    "net.ipv4.tcp_fin_timeout": (1, 29),
    "net.ipv4.tcp_keepalive_intvl": (1, 29),
    "net.ipv4.tcp_keepalive_probes": (1, 29),
    "net.ipv4.tcp_rmem": (1, 32),
    "net.ipv4.tcp_wmem": (1, 32),
    "net.ipv4.tcp_slow_start_after_idle": (1, 37),
    "net.ipv4.tcp_notsent_lowat": (1, 37),
}
SELINUX_TYPES_SINCE: dict[str, Version] = {
    "": (1, 0),
    "container_t": (1, 0),
    "container_init_t": (1, 0),
    "container_kvm_t": (1, 0),
    "container_engine_t": (1, 31),
}
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
PROFILE_TYPES_OK = ("RuntimeDefault", "Localhost")  # seccompProfile.type and appArmorProfile.type
USER_NAMESPACE_RELAXED_SINCE: Version = (1, 35)


def is_windows(pod: PodSpec) -> bool:
    """`spec.os.name: windows`: exempt from allowPrivilegeEscalation, capabilities_restricted and
    seccompProfile_restricted since 1.25 (those settings do not exist on Windows)."""
    return get(pod.spec, "os", "name") == "windows"


def in_user_namespace(pod: PodSpec, version: Version) -> bool:
    """`hostUsers: false` (a user namespace) relaxes some checks from 1.35."""
    return version >= USER_NAMESPACE_RELAXED_SINCE and pod.spec.get("hostUsers") is False


# --- baseline ------------------------------------------------------------------------------------


@rule(
    "host-process",
    "error",
    "Windows HostProcess containers are not allowed.",
    group="pss-baseline",
    control="windowsHostProcess",
)
def host_process(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        if get(pod.spec, "securityContext", "windowsOptions", "hostProcess") is True:
            yield Hit(pod.path + ("securityContext", "windowsOptions", "hostProcess"), "hostProcess must not be true")
    for c in all_containers(doc):
        if get(c.data, "securityContext", "windowsOptions", "hostProcess") is True:
            yield Hit(
                c.path + ("securityContext", "windowsOptions", "hostProcess"),
                f"container {c.name!r}: hostProcess must not be true",
            )


@rule(
    "host-namespaces",
    "warning",
    "hostNetwork, hostPID and hostIPC are not set (pods share the node's namespaces).",
    group="pss-baseline",
    control="hostNamespaces",
)
def host_namespaces(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.spec.get(key) is True:
                yield Hit(pod.path + (key,), f"{key}: true shares the node's namespace; remove it")


@rule("privileged", "error", "Containers are not privileged.", group="pss-baseline", control="privileged")
def privileged(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for c in all_containers(doc):
        if get(c.data, "securityContext", "privileged") is True:
            yield Hit(c.path + ("securityContext", "privileged"), f"container {c.name!r} is privileged")


@rule(
    "capabilities-baseline",
    "error",
    "Containers add no capabilities beyond the baseline set (exact names: 'chown' or 'CAP_CHOWN' is not CHOWN).",
    group="pss-baseline",
    control="capabilities_baseline",
)
def capabilities_baseline(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for c in all_containers(doc):
        for i, cap in enumerate(seq(get(c.data, "securityContext", "capabilities", "add"))):
            if cap not in BASELINE_CAPS:
                yield Hit(
                    c.path + ("securityContext", "capabilities", "add", i),
                    f"container {c.name!r} adds capability {cap!r}, not in the baseline set",
                )


@rule(
    "host-path-volumes",
    "warning",
    "No hostPath volumes (any host path, also read-only ones: the Pod Security "
    "Standard forbids them all, stricter than linters that flag only sensitive paths).",
    group="pss-baseline",
    control="hostPathVolumes",
)
def host_path_volumes(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        for i, vol in enumerate(seq(pod.spec.get("volumes"))):
            if isinstance(vol, dict) and vol.get("hostPath") is not None:
                yield Hit(pod.path + ("volumes", i, "hostPath"), f"volume {vol.get('name')!r} mounts a host path")


@rule("host-ports", "error", "Containers use no hostPort.", group="pss-baseline", control="hostPorts")
def host_ports(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for c in all_containers(doc):
        for i, port in enumerate(seq(c.data.get("ports"))):
            if isinstance(port, dict) and port.get("hostPort") not in (None, 0):
                yield Hit(c.path + ("ports", i, "hostPort"), f"container {c.name!r} binds host port {port['hostPort']}")


@rule(
    "apparmor",
    "error",
    "AppArmor is RuntimeDefault or Localhost (annotations: runtime/default or localhost/*).",
    group="pss-baseline",
    control="appArmorProfile",
)
def apparmor(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        annotations = get(pod_meta(pod), "annotations")
        if isinstance(annotations, dict):
            for key, value in annotations.items():
                text = "" if value is None else str(value)
                if (
                    str(key).startswith(APPARMOR_PREFIX)
                    and text not in ("", "runtime/default")
                    and not text.startswith("localhost/")
                ):
                    yield Hit(
                        pod.path[:-1] + ("metadata", "annotations", key), f"AppArmor profile {value!r} is not allowed"
                    )
        kind = get(pod.spec, "securityContext", "appArmorProfile", "type")
        if isinstance(get(pod.spec, "securityContext", "appArmorProfile"), dict) and kind not in PROFILE_TYPES_OK:
            yield Hit(
                pod.path + ("securityContext", "appArmorProfile", "type"),
                f"AppArmor profile type {kind!r} is not allowed (RuntimeDefault or Localhost)",
            )
    for c in all_containers(doc):
        kind = get(c.data, "securityContext", "appArmorProfile", "type")
        if isinstance(get(c.data, "securityContext", "appArmorProfile"), dict) and kind not in PROFILE_TYPES_OK:
            yield Hit(
                c.path + ("securityContext", "appArmorProfile", "type"),
                f"container {c.name!r}: AppArmor profile type {kind!r} is not allowed",
            )


@rule(
    "selinux",
    "error",
    "SELinux type is a container type; user and role are not set.",
    group="pss-baseline",
    control="seLinuxOptions",
)
def selinux(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    allowed = {t for t, since in SELINUX_TYPES_SINCE.items() if version >= since}
    places = [
        (p.path + ("securityContext", "seLinuxOptions"), get(p.spec, "securityContext", "seLinuxOptions"))
        for p in pod_specs(doc)
    ]
    places += [
        (c.path + ("securityContext", "seLinuxOptions"), get(c.data, "securityContext", "seLinuxOptions"))
        for c in all_containers(doc)
    ]
    for path, options in places:
        if not isinstance(options, dict):
            continue
        if str(options.get("type") or "") not in allowed:
            yield Hit(
                path + ("type",),
                f"SELinux type {options.get('type')!r} is not allowed in Kubernetes {version[0]}.{version[1]}",
            )
        for key in ("user", "role"):
            if options.get(key):
                yield Hit(path + (key,), f"SELinux {key} must not be set")


def _proc_mount_hits(doc: Document, relax: bool, version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        if relax and in_user_namespace(pod, version):
            continue
        for c in containers(pod):
            value = get(c.data, "securityContext", "procMount")
            if value not in (None, "Default"):
                yield Hit(
                    c.path + ("securityContext", "procMount"),
                    f"container {c.name!r}: procMount {value!r} is not allowed",
                )


@rule(
    "proc-mount",
    "error",
    "procMount is Default (from 1.35 any value in a user namespace, hostUsers: false).",
    group="pss-baseline",
    control="procMount",
)
def proc_mount(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    yield from _proc_mount_hits(doc, True, version)


@rule(
    "seccomp-baseline",
    "error",
    "seccompProfile.type, where set, is RuntimeDefault or Localhost.",
    group="pss-baseline",
    control="seccompProfile_baseline",
)
def seccomp_baseline(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        if (
            isinstance(get(pod.spec, "securityContext", "seccompProfile"), dict)
            and get(pod.spec, "securityContext", "seccompProfile", "type") not in PROFILE_TYPES_OK
        ):
            yield Hit(
                pod.path + ("securityContext", "seccompProfile", "type"),
                "seccompProfile.type must be RuntimeDefault or Localhost",
            )
    for c in all_containers(doc):
        if (
            isinstance(get(c.data, "securityContext", "seccompProfile"), dict)
            and get(c.data, "securityContext", "seccompProfile", "type") not in PROFILE_TYPES_OK
        ):
            yield Hit(
                c.path + ("securityContext", "seccompProfile", "type"),
                f"container {c.name!r}: seccompProfile.type must be RuntimeDefault or Localhost",
            )


@rule(
    "sysctls",
    "error",
    "Only the sysctls the chosen Kubernetes version deems safe are set.",
    group="pss-baseline",
    control="sysctls",
)
def sysctls(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        for i, item in enumerate(seq(get(pod.spec, "securityContext", "sysctls"))):
            if not isinstance(item, dict):
                continue
            name = item.get("name")
            since = SYSCTLS_SINCE.get(name) if isinstance(name, str) else None
            if since is None or version < since:
                later = f" (allowed from {since[0]}.{since[1]})" if since else ""
                yield Hit(
                    pod.path + ("securityContext", "sysctls", i, "name"),
                    f"sysctl {name!r} is not safe in Kubernetes {version[0]}.{version[1]}{later}",
                )


PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
LIFECYCLE = ("postStart", "preStop")


@rule(
    "host-probes",
    "error",
    "Probes and lifecycle handlers do not set a host (Kubernetes 1.34+).",
    group="pss-baseline",
    control="hostProbesAndHostLifecycle",
)
def host_probes(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    if version < (1, 34):
        return
    for c in all_containers(doc):
        handlers: list[tuple[tuple[str, ...], Any]] = [((probe,), c.data.get(probe)) for probe in PROBES]
        handlers += [(("lifecycle", hook), get(c.data, "lifecycle", hook)) for hook in LIFECYCLE]
        for where, handler in handlers:
            for action in ("httpGet", "tcpSocket"):
                host = get(handler, action, "host")
                if host not in (None, ""):
                    yield Hit(
                        c.path + where + (action, "host"),
                        f"container {c.name!r}: {'.'.join(where)}.{action}.host {host!r} must not be set "
                        "(it lets the kubelet probe another machine)",
                    )


# --- restricted ----------------------------------------------------------------------------------


@rule(
    "volume-types",
    "error",
    "Only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, "
    "projected and secret volumes.",
    group="pss-restricted",
    control="restrictedVolumes",
)
def volume_types(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        for i, vol in enumerate(seq(pod.spec.get("volumes"))):
            if not isinstance(vol, dict):
                continue
            kinds = [k for k in vol if k != "name" and vol[k] is not None]
            # no source at all is defaulted to emptyDir by the API server; with an allowed source,
            # a second one is the schema's (and the API server's) problem
            if not kinds or any(k in RESTRICTED_VOLUMES for k in kinds):
                continue
            for k in kinds:
                yield Hit(pod.path + ("volumes", i, k), f"volume {vol.get('name')!r} of type {k} is not allowed")


@rule(
    "privilege-escalation",
    "error",
    "Every container sets allowPrivilegeEscalation: false (Windows pods exempt).",
    fixable=True,
    group="pss-restricted",
    control="allowPrivilegeEscalation",
)
def privilege_escalation(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        if is_windows(pod):
            continue
        for c in containers(pod):
            value = get(c.data, "securityContext", "allowPrivilegeEscalation")
            if value is not False:

                def fix(c=c) -> str:
                    ensure_map(c.data, "securityContext")["allowPrivilegeEscalation"] = False
                    return f"container {c.name!r}: set securityContext.allowPrivilegeEscalation: false"

                # true was asked for on purpose: flipping it could break the program, so say so instead
                yield Hit(
                    c.path + ("securityContext", "allowPrivilegeEscalation"),
                    f"container {c.name!r} must set securityContext.allowPrivilegeEscalation: false",
                    fix if value is None else None,
                )


@rule(
    "run-as-non-root",
    "error",
    "The pod (or every container) sets runAsNonRoot: true (from 1.35 not required with hostUsers: false).",
    fixable=True,
    group="pss-restricted",
    control="runAsNonRoot",
)
def run_as_non_root(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        if in_user_namespace(pod, version):
            continue
        pod_value = get(pod.spec, "securityContext", "runAsNonRoot")
        cs = list(containers(pod))
        explicit_false = [c for c in cs if get(c.data, "securityContext", "runAsNonRoot") is False]
        if pod_value is False:
            yield Hit(pod.path + ("securityContext", "runAsNonRoot"), "pod sets runAsNonRoot: false")
        for c in explicit_false:
            yield Hit(c.path + ("securityContext", "runAsNonRoot"), f"container {c.name!r} sets runAsNonRoot: false")
        if pod_value is True or pod_value is False or explicit_false:
            continue
        if all(get(c.data, "securityContext", "runAsNonRoot") is True for c in cs):
            continue

        def fix(pod=pod) -> str:
            ensure_map(pod.spec, "securityContext")["runAsNonRoot"] = True
            return "set pod securityContext.runAsNonRoot: true (the image must run as a non-root user)"

        yield Hit(
            pod.path + ("securityContext", "runAsNonRoot"),
            "pod must set securityContext.runAsNonRoot: true",
            fix if pod_value is None else None,
        )


@rule(
    "run-as-user",
    "error",
    "runAsUser is not 0 (root); from 1.35 allowed with hostUsers: false.",
    group="pss-restricted",
    control="runAsUser",
)
def run_as_user(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        if in_user_namespace(pod, version):
            continue
        if get(pod.spec, "securityContext", "runAsUser") == 0:
            yield Hit(pod.path + ("securityContext", "runAsUser"), "runAsUser must not be 0")
        for c in containers(pod):
            if get(c.data, "securityContext", "runAsUser") == 0:
                yield Hit(c.path + ("securityContext", "runAsUser"), f"container {c.name!r}: runAsUser must not be 0")


@rule(
    "seccomp",
    "error",
    "seccompProfile.type is RuntimeDefault or Localhost (on the pod or every container; Windows pods exempt).",
    fixable=True,
    group="pss-restricted",
    control="seccompProfile_restricted",
)
def seccomp(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        if is_windows(pod):
            continue
        pod_profile = get(pod.spec, "securityContext", "seccompProfile")
        pod_type = get(pod_profile, "type")
        pod_set = isinstance(pod_profile, dict)
        if pod_set and pod_type not in PROFILE_TYPES_OK:
            yield Hit(
                pod.path + ("securityContext", "seccompProfile", "type"),
                "seccompProfile.type must be RuntimeDefault or Localhost",
            )
        implicit = []
        for c in containers(pod):
            profile = get(c.data, "securityContext", "seccompProfile")
            if isinstance(profile, dict):
                if profile.get("type") not in PROFILE_TYPES_OK:
                    yield Hit(
                        c.path + ("securityContext", "seccompProfile", "type"),
                        f"container {c.name!r}: seccompProfile.type must be RuntimeDefault or Localhost",
                    )
            elif not (pod_set and pod_type in PROFILE_TYPES_OK):
                implicit.append(c)
        if not implicit or pod_set:
            continue

        def fix(pod=pod) -> str:
            ensure_map(ensure_map(pod.spec, "securityContext"), "seccompProfile")["type"] = "RuntimeDefault"
            return "set pod securityContext.seccompProfile.type: RuntimeDefault"

        yield Hit(
            pod.path + ("securityContext", "seccompProfile", "type"),
            "pod must set securityContext.seccompProfile.type: RuntimeDefault",
            fix,
        )


@rule(
    "capabilities-drop-all",
    "error",
    "Every container drops ALL capabilities (exactly 'ALL'; Windows pods exempt). "
    "Stricter than linters that accept dropping a list: the Pod Security Standard asks for ALL.",
    fixable=True,
    group="pss-restricted",
    control="capabilities_restricted",
)
def capabilities_drop_all(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        if is_windows(pod):
            continue
        for c in containers(pod):
            dropped = get(c.data, "securityContext", "capabilities", "drop")
            if "ALL" in seq(dropped):
                continue

            def fix(c=c) -> str:
                caps = ensure_map(ensure_map(c.data, "securityContext"), "capabilities")
                ensure_seq(caps, "drop").append("ALL")
                return f"container {c.name!r}: add ALL to securityContext.capabilities.drop"

            yield Hit(
                c.path + ("securityContext", "capabilities", "drop"),
                f"container {c.name!r} must drop ALL capabilities",
                fix,
            )


@rule(
    "capabilities-restricted",
    "error",
    "Containers add no capability but NET_BIND_SERVICE (Windows pods exempt).",
    group="pss-restricted",
    control="capabilities_restricted",
)
def capabilities_restricted(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        if is_windows(pod):
            continue
        for c in containers(pod):
            for i, cap in enumerate(seq(get(c.data, "securityContext", "capabilities", "add"))):
                if cap != "NET_BIND_SERVICE":
                    yield Hit(
                        c.path + ("securityContext", "capabilities", "add", i),
                        f"container {c.name!r} adds capability {cap!r}; only NET_BIND_SERVICE may be added",
                    )


@rule(
    "proc-mount-restricted",
    "error",
    "procMount is Default, also in a user namespace (hostUsers: false).",
    group="pss-restricted",
    control="procMount_restricted",
)
def proc_mount_restricted(doc: Document, docs: list[Document], version: Version) -> Iterator[Hit]:
    # upstream: procMount_restricted (1.35+) overrides procMount; before 1.35 procMount had no exemption
    yield from _proc_mount_hits(doc, False, version)
