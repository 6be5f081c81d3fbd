"""Adversarial inputs for the k8s server: alias bombs spread over many documents, odd CRD names."""

from __future__ import annotations

import re

import pytest

from budgets import cpu_budget
from mcpfleet.servers.k8s import documents
from mcpfleet.servers.k8s.crds import catalog_path
from mcpfleet.servers.k8s.engine import Engine


def _alias_doc(levels: int = 5, width: int = 8) -> str:
    """One ConfigMap whose aliases expand to ~340k nodes: under the per-document cap."""
    rows = ["a0: &a0 [" + ",".join(["x"] * width) + "]"]
    for i in range(1, levels + 1):
        rows.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]")
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n" + "\n".join("  " + r for r in rows) + "\n"


@pytest.fixture(scope="module")
def engine():
    return Engine()


def test_one_alias_document_under_the_cap_still_validates(engine):
    report = engine.validate_text(_alias_doc())
    assert report.documents == 1
    assert all(f.rule != "yaml-syntax" for f in report.findings)


@pytest.mark.parametrize("round_trip", [False, True])
def test_many_alias_documents_are_refused_as_a_whole(engine, round_trip):
    # 40 documents x ~340k expanded nodes: each passes MAX_NODES, together they are ~14M nodes of
    # work (minutes of CPU per call at 5000 documents). The stream total must stop it early.
    text = "---\n".join([_alias_doc()] * 40)
    with cpu_budget(20):
        if round_trip:
            with pytest.raises(documents.YamlSyntaxError, match="together expand"):
                documents.parse(text)
        else:
            report = engine.validate_text(text)
            assert [f.rule for f in report.findings] == ["yaml-syntax"]
            assert "together expand" in report.findings[0].message


def test_the_fix_tool_refuses_the_multi_document_bomb(engine):
    from mcpfleet.common.errors import UserError

    with pytest.raises(UserError, match="together expand"):
        engine.fix_text("---\n".join([_alias_doc()] * 40))


def test_plain_large_manifests_stay_under_the_total_budget(engine):
    # 200 ordinary Deployments-worth of keys: nowhere near the budget
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n" + "".join(
        f"  k{i}: v{i}\n" for i in range(500)
    )
    report = engine.validate_text("---\n".join([doc] * 200))
    assert report.documents == 200
    assert all(f.rule != "yaml-syntax" for f in report.findings)


def test_overlong_crd_names_give_no_path(tmp_path):
    # a group of 300 characters would make the cache path fail with ENAMETOOLONG (an OSError
    # escaping the tool) instead of being treated as unknown
    assert catalog_path(tmp_path, "a" * 300 + ".example.com/v1", "Widget") is None
    assert catalog_path(tmp_path, "example.com/v1", "W" * 300) is None
    assert catalog_path(tmp_path, "example.com/" + "v" * 300, "Widget") is None
    assert catalog_path(tmp_path, "example.com/v1", "Widget") == tmp_path / "example.com" / "widget_v1.json"


def test_made_up_kinds_do_not_grow_the_schema_caches(engine):
    from mcpfleet.servers.k8s.schema import _builtin_schema_text

    engine.validate_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: warm}\n")
    validators = len(engine.schemas._validators)
    docs = [f"apiVersion: made.up/v{n}\nkind: Kind{n}\nmetadata: {{name: x}}\n" for n in range(300)]
    report = engine.validate_text("---\n".join(docs))
    assert sum(f.rule == "unknown-kind" for f in report.findings) == 300  # still reported as unknown
    assert len(engine.schemas._validators) == validators  # misses are not remembered per caller name

    # names far longer than any Kubernetes name never become keys of the lru_cache (50 KB each)
    texts = _builtin_schema_text.cache_info().currsize
    huge = [f"apiVersion: v1\nkind: {'K' * 50_000}{n}\nmetadata: {{name: x}}\n" for n in range(5)]
    report = engine.validate_text("---\n".join(huge))
    # v1 is Kubernetes' own group: a kind it lacks is an error (never a CRD), with a bounded message
    assert sum(f.rule == "api-not-available" for f in report.findings) == 5
    assert all(len(f.message) <= 300 for f in report.findings)
    assert _builtin_schema_text.cache_info().currsize == texts


@pytest.mark.parametrize("depth", [300, 500, 2000])
@pytest.mark.parametrize("shape", ["flow-lists", "flow-maps"])
def test_deep_nesting_is_a_finding_not_a_recursion_error(engine, depth, shape):
    from mcpfleet.common.errors import UserError

    nested = "[" * depth + "]" * depth if shape == "flow-lists" else "{a: " * depth + "1" + "}" * depth
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: p}}\ndata: {{x: {nested}}}\n"
    report = engine.validate_text(text)  # raised RecursionError (from the schema check) at 500 levels
    assert [f.rule for f in report.findings] == ["yaml-syntax"]
    # our depth check says "nested ..."; PyYAML >= 6.0.4's own limit ("exceeded maximum nesting depth")
    # may stop the parser first: either way one yaml-syntax finding, never a crash
    assert re.search(r"nest(ed|ing)", report.findings[0].message)
    with pytest.raises(UserError, match="nested"):
        engine.fix_text(text)


def test_moderately_deep_manifests_still_validate(engine):
    nested = "{a: " * 100 + "1" + "}" * 100
    report = engine.validate_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: p}}\ndata: {{x: {nested}}}\n")
    assert all(f.rule != "yaml-syntax" for f in report.findings)


@pytest.mark.parametrize("fixer", [False, True])
def test_a_long_quantity_is_checked_in_linear_time(engine, fixer):
    value = "1" * 200_000 + "x"  # `\d+\.?\d*` backtracked quadratically: about an hour for this one
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n"
        f"    resources:\n      requests: {{cpu: '{value}', memory: 1Gi}}\n      limits: {{cpu: '{value}', memory: 1Gi}}\n"
    )
    with cpu_budget(20):  # about an hour of CPU before the fix
        result = engine.fix_text(text, profile="cerit") if fixer else engine.validate_text(text, profile="cerit")
    assert result is not None


def test_quantities_still_parse():
    from decimal import Decimal

    from mcpfleet.servers.k8s.rules.quantity import parse_quantity

    assert parse_quantity("512Mi") == 512 * 2**20 and parse_quantity("250m") == Decimal("0.25")
    assert parse_quantity("1.") == 1 and parse_quantity(".5") == Decimal("0.5") and parse_quantity("1e3") == 1000
    assert parse_quantity("1" * 101) is None and parse_quantity("1.2.3") is None
