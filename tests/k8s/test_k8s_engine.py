"""Engine units: versions, profiles as data, CRD schemas, YAML handling, limits, quantities."""

from __future__ import annotations

import json
import textwrap

import pytest

from mcpfleet.common.errors import ConfigError, UserError
from mcpfleet.servers.k8s.documents import YamlSyntaxError, guess_indent, parse
from mcpfleet.servers.k8s.engine import Engine, validate_text
from mcpfleet.servers.k8s.profiles import load_profiles
from mcpfleet.servers.k8s.rules import all_rules
from mcpfleet.servers.k8s.rules.quantity import parse_quantity
from mcpfleet.servers.k8s.schema import bundled_versions, check_version, default_version
from mcpfleet.servers.k8s.settings import K8sSettings

POD = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers:
        - name: c
          image: example/app:1.0
    """)


def rules_of(report) -> list[str]:
    return sorted(f.rule for f in report.findings)


def test_versions_are_bundled_and_the_default_is_the_newest():
    versions = bundled_versions()
    assert versions[0] == "1.25" and versions[-1] == default_version()
    assert tuple(map(int, default_version().split("."))) <= (1, 37)
    assert check_version("v1.30.4") == "1.30"
    with pytest.raises(UserError, match="choose 1.25"):
        check_version("1.19")
    with pytest.raises(UserError):
        check_version("latest")


def test_the_schema_depends_on_the_version():
    hpa = (
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n"
        "spec: {scaleTargetRef: {kind: Deployment, name: d}, maxReplicas: 2}\n"
    )
    assert validate_text(hpa, "1.25", "best-practices").findings == []
    claim = "apiVersion: resource.k8s.io/v1\nkind: ResourceClaim\nmetadata: {name: c}\nspec: {}\n"
    assert rules_of(validate_text(claim, "1.33", "best-practices")) == ["api-not-available"]
    assert validate_text(claim, "1.34", "best-practices").findings == []


def test_profiles_extend_and_override(tmp_path):
    (tmp_path / "org.yaml").write_text(
        textwrap.dedent("""\
        name: org
        description: ours
        extends: restricted
        rules:
          probes: off
          image-tag: error
          unknown-kind: error
        """)
    )
    engine = Engine(K8sSettings(profile_dirs=[str(tmp_path)]))
    report = engine.validate_text(POD, profile="org")
    rules = rules_of(report)
    assert "probes" not in rules and "run-as-non-root" in rules
    crd = "apiVersion: example.org/v1\nkind: Widget\nmetadata: {name: w}\n"
    assert [(f.rule, f.severity) for f in engine.validate_text(crd, profile="org").findings] == [
        ("unknown-kind", "error")
    ]
    latest = POD.replace("example/app:1.0", "example/app:latest")
    assert ("image-tag", "error") in {
        (f.rule, f.severity) for f in engine.validate_text(latest, profile="org").findings
    }
    # the built-ins are untouched
    assert "probes" in rules_of(engine.validate_text(POD, profile="restricted"))


@pytest.mark.parametrize(
    "body, message",
    [
        ("name: x\nrules: {no-such-rule: error}\n", "unknown rule"),
        ("name: x\nrules: {probes: fatal}\n", "severity must be"),
        ("name: x\nextends: nowhere\n", "unknown profile"),
        ("name: x\nextends: x\n", "extends itself"),
        ("name: x\ncolour: red\n", "unknown keys"),
        ("[1, 2]\n", "expected a mapping"),
    ],
)
def test_bad_profiles_are_configuration_errors(tmp_path, body, message):
    (tmp_path / "bad.yaml").write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_profiles([str(tmp_path)])


def test_unknown_profile_and_default_profile():
    with pytest.raises(UserError, match="baseline"):
        validate_text(POD, profile="strictest")
    with pytest.raises(ConfigError):
        Engine(K8sSettings(profile="strictest"))
    assert Engine(K8sSettings(profile="cerit")).validate_text(POD).profile == "cerit"
    assert validate_text(POD).profile == "restricted"


def test_every_rule_is_in_some_builtin_profile_and_described():
    profiles = load_profiles()
    assert {"baseline", "restricted", "cerit", "best-practices"} <= set(profiles)
    used = set().union(*(p.rules for p in profiles.values()))
    checks = {r.id for r in all_rules().values() if r.check is not None}
    assert checks <= used
    assert all(r.description.endswith(".") for r in all_rules().values())
    cerit, restricted, baseline = profiles["cerit"], profiles["restricted"], profiles["baseline"]
    assert set(baseline.rules) < set(restricted.rules) < set(cerit.rules)


CRD = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: widgets.example.org}
    spec:
      group: example.org
      names: {kind: Widget, plural: widgets}
      scope: Namespaced
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  required: [size]
                  properties:
                    size: {type: integer, minimum: 1}
                    extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
    """)


def test_crd_schemas_from_a_directory(tmp_path):
    (tmp_path / "widget-crd.yaml").write_text(CRD)
    catalog = tmp_path / "example.com"
    catalog.mkdir()
    (catalog / "gadget_v1beta1.json").write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {
                    "kind": {"enum": ["Gadget"]},
                    "spec": {"type": "object", "properties": {"colour": {"type": "string", "enum": ["red", "blue"]}}},
                },
            }
        )
    )
    engine = Engine(K8sSettings(crd_dirs=[str(tmp_path)]))
    good = "apiVersion: example.org/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 2, extra: {any: 1}}\n"
    assert engine.validate_text(good, profile="best-practices").findings == []
    bad = "apiVersion: example.org/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 0, colour: red}\n"
    found = {(f.rule, f.path) for f in engine.validate_text(bad, profile="best-practices").findings}
    assert found == {("schema", "spec.size"), ("schema", "spec.colour")}
    gadget = "apiVersion: example.com/v1beta1\nkind: Gadget\nmetadata: {name: g}\nspec: {colour: green}\n"
    assert [(f.rule, f.path, f.line) for f in engine.validate_text(gadget, profile="best-practices").findings] == [
        ("schema", "spec.colour", 4)
    ]
    # without the directory the same kinds are only warnings
    assert rules_of(validate_text(bad, profile="best-practices")) == ["unknown-kind"]


def test_crd_objects_as_from_a_live_cluster():
    crd = parse(CRD)[0].data
    engine = Engine(crd_objects=[json.loads(json.dumps(crd))])
    bad = "apiVersion: example.org/v1\nkind: Widget\nmetadata: {name: w}\nspec: {}\n"
    assert [(f.rule, f.path) for f in engine.validate_text(bad, profile="best-practices").findings] == [
        ("schema", "spec")
    ]


def test_a_built_in_name_under_another_group_is_not_mistaken_for_it():
    fake = "apiVersion: apps.example.org/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {anything: 1}\n"
    assert rules_of(validate_text(fake, profile="best-practices")) == ["unknown-kind"]


def test_yaml_errors_have_line_and_column():
    report = validate_text("a: 1\nb: [1, 2\nc: 3\n", profile="restricted")
    [finding] = report.findings
    assert finding.rule == "yaml-syntax" and finding.line == 3 and finding.column is not None
    assert "line" not in finding.message or "Traceback" not in finding.message
    with pytest.raises(YamlSyntaxError):
        parse("key: 'unclosed\n")
    tab = validate_text("a:\n\tb: 1\n")
    assert tab.findings[0].rule == "yaml-syntax" and tab.findings[0].line == 2


def test_alias_bombs_and_big_inputs_are_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]\n"
    report = validate_text(bomb)
    assert [f.rule for f in report.findings] == ["yaml-syntax"] and "expands" in report.findings[0].message
    engine = Engine(K8sSettings(max_bytes=1000))
    with pytest.raises(UserError, match="larger than 1000 bytes"):
        engine.validate_text(POD * 20)


def test_documents_and_lines():
    text = (
        "# lead\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata: {k: 1}\n"
    )
    docs = parse(text)
    assert [(d.index, d.name, d.line) for d in docs] == [(0, "a", 3), (1, "b", 9)]
    assert docs[1].line_of(("metadata", "name")) == 12
    assert docs[1].line_of(("metadata", "labels", "x")) == 11  # deepest existing ancestor
    report = validate_text(text, profile="best-practices")
    assert [(f.document, f.path, f.line) for f in report.findings] == [(1, "data.k", 13)]


def test_guess_indent():
    assert guess_indent("a:\n  b:\n  - x\n") == (2, 0)
    assert guess_indent("a:\n    b:\n      - x\n") == (4, 2)
    assert guess_indent("") == (2, 0)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("250m", 0.25),
        ("2", 2),
        (3, 3),
        ("1.5G", 1.5e9),
        ("1e3", 1000),
        ("lots", None),
        (True, None),
        ("", None),
    ],
)
def test_quantities(value, expected):
    got = parse_quantity(value)
    assert (got is None) if expected is None else float(got) == pytest.approx(expected)


def test_rules_info():
    engine = Engine()
    listing = engine.rules_info()
    assert {p["profile"] for p in listing["profiles"]} >= {"baseline", "restricted", "cerit"}
    assert "gpu-shm" in listing["rules"]
    cerit = engine.rules_info(profile="cerit")
    rows = {r["rule"]: r for r in cerit["rules"]}
    assert rows["resources-limits"]["severity"] == "error" and rows["resources-limits"]["fixable"]
    assert rows["ephemeral-storage"]["severity"] == "warning"
    assert rows["schema"]["severity"] == "error"  # engine rules are always on
    one = engine.rules_info(rule="host-namespaces")
    assert one["profiles"]["best-practices"] == "warning" and one["profiles"]["baseline"] == "error"
    with pytest.raises(UserError):
        engine.rules_info(rule="nope")


def test_kustomization_files_are_not_cluster_objects():
    text = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deployment.yaml]\n"
    assert validate_text(text, profile="cerit").findings == []


def test_duplicate_keys_are_syntax_errors_as_in_kubectl():
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  k: '1'\n  k: '2'\n"
    [finding] = validate_text(text).findings
    assert (finding.rule, finding.line, finding.column) == (
        "yaml-syntax",
        6,
        3,
    ) and "duplicate key 'k'" in finding.message
