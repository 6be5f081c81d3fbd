"""Pod Security Standards (https://kubernetes.io/docs/concepts/security/pod-security-standards/),
one rule per control, for every pod-bearing kind. Profiles `baseline` and `restricted` pick them."""

from __future__ import annotations

from collections.abc import Iterator

from mcpfleet.servers.k8s.documents import Document
from mcpfleet.servers.k8s.rules import Hit, rule
from mcpfleet.servers.k8s.rules.pods import (
    all_containers, containers, ensure_map, ensure_seq, get, pod_meta, pod_specs, seq,
)

BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                 "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}
APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"

# --- baseline ------------------------------------------------------------------------------------


@rule("host-process", "error", "Windows HostProcess containers are not allowed.", group="pss-baseline")
def host_process(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        if get(pod.spec, "securityContext", "windowsOptions", "hostProcess") is True:
            yield Hit(pod.path + ("securityContext", "windowsOptions", "hostProcess"), "hostProcess must not be true")
    for c in all_containers(doc):
        if get(c.data, "securityContext", "windowsOptions", "hostProcess") is True:
            yield Hit(c.path + ("securityContext", "windowsOptions", "hostProcess"),
                      f"container {c.name!r}: hostProcess must not be true")


@rule("host-namespaces", "warning", "hostNetwork, hostPID and hostIPC are not set (pods share the node's namespaces).",
      group="pss-baseline")
def host_namespaces(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.spec.get(key) is True:
                yield Hit(pod.path + (key,), f"{key}: true shares the node's namespace; remove it")


@rule("privileged", "error", "Containers are not privileged.", group="pss-baseline")
def privileged(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc):
        if get(c.data, "securityContext", "privileged") is True:
            yield Hit(c.path + ("securityContext", "privileged"), f"container {c.name!r} is privileged")


@rule("capabilities-baseline", "error", "Containers add no capabilities beyond the baseline set.", group="pss-baseline")
def capabilities_baseline(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc):
        added = get(c.data, "securityContext", "capabilities", "add")
        if isinstance(added, list):
            for i, cap in enumerate(added):
                if str(cap).upper().removeprefix("CAP_") not in BASELINE_CAPS:
                    yield Hit(c.path + ("securityContext", "capabilities", "add", i),
                              f"container {c.name!r} adds capability {cap}")


@rule("host-path-volumes", "warning", "No hostPath volumes.", group="pss-baseline")
def host_path_volumes(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        for i, vol in enumerate(seq(pod.spec.get("volumes"))):
            if isinstance(vol, dict) and "hostPath" in vol:
                yield Hit(pod.path + ("volumes", i, "hostPath"), f"volume {vol.get('name')!r} mounts a host path")


@rule("host-ports", "error", "Containers use no hostPort.", group="pss-baseline")
def host_ports(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc):
        for i, port in enumerate(seq(c.data.get("ports"))):
            if isinstance(port, dict) and port.get("hostPort") not in (None, 0):
                yield Hit(c.path + ("ports", i, "hostPort"), f"container {c.name!r} binds host port {port['hostPort']}")


@rule("apparmor", "error", "AppArmor is not set to Unconfined.", group="pss-baseline")
def apparmor(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        meta = pod_meta(pod)
        annotations = get(meta, "annotations") if isinstance(meta, dict) else None
        if isinstance(annotations, dict):
            for key, value in annotations.items():
                if str(key).startswith(APPARMOR_PREFIX) and value not in ("runtime/default",) and not str(value).startswith("localhost/"):
                    yield Hit(pod.path[:-1] + ("metadata", "annotations", key), f"AppArmor profile {value!r} is not allowed")
        if get(pod.spec, "securityContext", "appArmorProfile", "type") == "Unconfined":
            yield Hit(pod.path + ("securityContext", "appArmorProfile", "type"), "AppArmor must not be Unconfined")
    for c in all_containers(doc):
        if get(c.data, "securityContext", "appArmorProfile", "type") == "Unconfined":
            yield Hit(c.path + ("securityContext", "appArmorProfile", "type"),
                      f"container {c.name!r}: AppArmor must not be Unconfined")


@rule("selinux", "error", "SELinux type is a container type; user and role are not set.", group="pss-baseline")
def selinux(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    places = [(p.path + ("securityContext", "seLinuxOptions"), get(p.spec, "securityContext", "seLinuxOptions"))
              for p in pod_specs(doc)]
    places += [(c.path + ("securityContext", "seLinuxOptions"), get(c.data, "securityContext", "seLinuxOptions"))
               for c in all_containers(doc)]
    for path, options in places:
        if not isinstance(options, dict):
            continue
        if str(options.get("type") or "") not in SELINUX_TYPES:
            yield Hit(path + ("type",), f"SELinux type {options.get('type')!r} is not allowed")
        for key in ("user", "role"):
            if options.get(key):
                yield Hit(path + (key,), f"SELinux {key} must not be set")


@rule("proc-mount", "error", "procMount is Default.", group="pss-baseline")
def proc_mount(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc):
        value = get(c.data, "securityContext", "procMount")
        if value not in (None, "Default"):
            yield Hit(c.path + ("securityContext", "procMount"), f"container {c.name!r}: procMount {value!r} is not allowed")


@rule("seccomp-baseline", "error", "Seccomp is not set to Unconfined.", group="pss-baseline")
def seccomp_baseline(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        if get(pod.spec, "securityContext", "seccompProfile", "type") == "Unconfined":
            yield Hit(pod.path + ("securityContext", "seccompProfile", "type"), "seccompProfile must not be Unconfined")
    for c in all_containers(doc):
        if get(c.data, "securityContext", "seccompProfile", "type") == "Unconfined":
            yield Hit(c.path + ("securityContext", "seccompProfile", "type"),
                      f"container {c.name!r}: seccompProfile must not be Unconfined")


@rule("sysctls", "error", "Only safe sysctls are set.", group="pss-baseline")
def sysctls(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        for i, item in enumerate(seq(get(pod.spec, "securityContext", "sysctls"))):
            if isinstance(item, dict) and item.get("name") not in SAFE_SYSCTLS:
                yield Hit(pod.path + ("securityContext", "sysctls", i, "name"), f"sysctl {item.get('name')!r} is not safe")


# --- restricted ----------------------------------------------------------------------------------


@rule("volume-types", "error", "Only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, "
      "projected and secret volumes.", group="pss-restricted")
def volume_types(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        for i, vol in enumerate(seq(pod.spec.get("volumes"))):
            if not isinstance(vol, dict):
                continue
            kinds = [k for k in vol if k != "name"]
            for k in kinds:
                if k not in RESTRICTED_VOLUMES:
                    yield Hit(pod.path + ("volumes", i, k), f"volume {vol.get('name')!r} of type {k} is not allowed")


@rule("privilege-escalation", "error", "Every container sets allowPrivilegeEscalation: false.", fixable=True,
      group="pss-restricted")
def privilege_escalation(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc):
        value = get(c.data, "securityContext", "allowPrivilegeEscalation")
        if value is not False:
            def fix(c=c) -> str:
                ensure_map(c.data, "securityContext")["allowPrivilegeEscalation"] = False
                return f"container {c.name!r}: set securityContext.allowPrivilegeEscalation: false"

            # true was asked for on purpose: flipping it could break the program, so say so instead
            yield Hit(c.path + ("securityContext", "allowPrivilegeEscalation"),
                      f"container {c.name!r} must set securityContext.allowPrivilegeEscalation: false",
                      fix if value is None else None)


@rule("run-as-non-root", "error", "The pod (or every container) sets runAsNonRoot: true.", fixable=True,
      group="pss-restricted")
def run_as_non_root(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        pod_value = get(pod.spec, "securityContext", "runAsNonRoot")
        cs = list(containers(pod))
        explicit_false = [c for c in cs if get(c.data, "securityContext", "runAsNonRoot") is False]
        for c in explicit_false:
            yield Hit(c.path + ("securityContext", "runAsNonRoot"), f"container {c.name!r} sets runAsNonRoot: false")
        if pod_value is True or explicit_false:
            continue
        if cs and all(get(c.data, "securityContext", "runAsNonRoot") is True for c in cs):
            continue

        def fix(pod=pod) -> str:
            ensure_map(pod.spec, "securityContext")["runAsNonRoot"] = True
            return "set pod securityContext.runAsNonRoot: true (the image must run as a non-root user)"

        yield Hit(pod.path + ("securityContext", "runAsNonRoot"), "pod must set securityContext.runAsNonRoot: true",
                  fix if pod_value is None else None)


@rule("run-as-user", "error", "runAsUser is not 0 (root).", group="pss-restricted")
def run_as_user(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        if get(pod.spec, "securityContext", "runAsUser") == 0:
            yield Hit(pod.path + ("securityContext", "runAsUser"), "runAsUser must not be 0")
    for c in all_containers(doc):
        if get(c.data, "securityContext", "runAsUser") == 0:
            yield Hit(c.path + ("securityContext", "runAsUser"), f"container {c.name!r}: runAsUser must not be 0")


@rule("seccomp", "error", "seccompProfile.type is RuntimeDefault or Localhost (on the pod or every container).",
      fixable=True, group="pss-restricted")
def seccomp(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    ok = ("RuntimeDefault", "Localhost")
    for pod in pod_specs(doc):
        pod_type = get(pod.spec, "securityContext", "seccompProfile", "type")
        if pod_type in ok:
            continue
        cs = list(containers(pod))
        if cs and all(get(c.data, "securityContext", "seccompProfile", "type") in ok for c in cs):
            continue

        def fix(pod=pod) -> str:
            ensure_map(ensure_map(pod.spec, "securityContext"), "seccompProfile")["type"] = "RuntimeDefault"
            return "set pod securityContext.seccompProfile.type: RuntimeDefault"

        yield Hit(pod.path + ("securityContext", "seccompProfile", "type"),
                  "pod must set securityContext.seccompProfile.type: RuntimeDefault", fix if pod_type is None else None)


@rule("capabilities-drop-all", "error", "Every container drops ALL capabilities.", fixable=True, group="pss-restricted")
def capabilities_drop_all(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc):
        dropped = get(c.data, "securityContext", "capabilities", "drop")
        if isinstance(dropped, list) and any(str(d).upper() == "ALL" for d in dropped):
            continue

        def fix(c=c) -> str:
            caps = ensure_map(ensure_map(c.data, "securityContext"), "capabilities")
            ensure_seq(caps, "drop").append("ALL")
            return f"container {c.name!r}: add ALL to securityContext.capabilities.drop"

        yield Hit(c.path + ("securityContext", "capabilities", "drop"),
                  f"container {c.name!r} must drop ALL capabilities", fix)


@rule("capabilities-restricted", "error", "Containers add no capability but NET_BIND_SERVICE (beyond baseline's own findings).", group="pss-restricted")
def capabilities_restricted(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc):
        added = get(c.data, "securityContext", "capabilities", "add")
        if isinstance(added, list):
            for i, cap in enumerate(added):
                name = str(cap).upper().removeprefix("CAP_")
                # others are capabilities-baseline's findings already
                if name != "NET_BIND_SERVICE" and name in BASELINE_CAPS:
                    yield Hit(c.path + ("securityContext", "capabilities", "add", i),
                              f"container {c.name!r} adds capability {cap}")
