"""Bad input to every k8s tool over MCP (in memory, with the runtime's middleware): a finding or a
refusal a model can act on, never `internal error`."""

from __future__ import annotations

import asyncio
import threading

import pytest
import pytest_asyncio
from fastmcp import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bad_input_testing import answer
from mcpfleet.common.app import build_server
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.k8s import SPEC

pytestmark = pytest.mark.skipif(SPEC.missing() is not None, reason=str(SPEC.missing()))
in_module_loop = pytest.mark.asyncio(loop_scope="module")
POD = "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {spec}\n"


def server():
    return build_server(SPEC, load_settings()).server  # telemetry masks crashes as production does


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def k8s():
    async with Client(server()) as c:
        yield c


@pytest.mark.parametrize(
    "manifest",
    [
        "a: !!int x\n",
        "a: !!float x\n",
        "a: !!bool x\n",
        "a: !!timestamp x\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {a: !!int nope}\n",
    ],
)
@in_module_loop
async def test_a_value_that_does_not_fit_its_tag_is_a_yaml_finding(k8s, manifest):
    # libyaml's and ruamel's constructors raise ValueError/KeyError/AttributeError for these
    report = (await answer(k8s, "k8s_validate", {"manifest": manifest})).structured_content
    assert report["errors"] == 1 and report["documents"] == 0
    finding = report["findings"][0]
    assert finding["rule"] == "yaml-syntax" and finding["line"] == 1
    assert "tag" in finding["message"] or "timestamp" in finding["message"]
    refusal = await answer(k8s, "k8s_fix", {"manifest": manifest})
    assert isinstance(refusal, str) and "YAML" in refusal and "fix the YAML first" in refusal


ODD = [
    "",
    " \n\t",
    "---\n",
    "---\n---\n...\n",
    "null\n",
    "~\n",
    "[]\n",
    "- a\n- b\n",
    "5\n",
    "'x'\n",
    "kind: 5\n",
    "apiVersion: v1\nkind: Pod\nmetadata: []\nspec: x\n",
    POD.format(spec="{containers: {a: b}}"),
    POD.format(
        spec="{containers: [{name: c, image: i, resources: {limits: {cpu: 5, memory: garbage}, requests: "
        "{cpu: .inf, memory: .nan, nvidia.com/gpu: -1e400}}}]}"
    ),
    POD.format(spec="{containers: [{name: c, image: i, args: [1, null, {a: b}], command: [5], env: [{name: 5}]}]}"),
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p, name: q}\n",
    "a: 1\na: 2\n",
    "!!python/object/apply:os.system ['true']\n",
    "kind: !!python/name:os.system x\n",
    "!!binary aGk=\n",
    "!foo x\n",
    "%YAML 1.2\n---\na: 1\n",
    "a: &a [*a]\n",
    "{[1]: 2}\n",
    "? [a]\n: b\n",
    "<<: 5\n",
    "a\x00b: 1\n",
    "\ufeffkind: Pod\n",
    "apiVersion: v1\nkind: Pod\nmetadata: {name: \u202ep\u200b😀}\nspec: {containers: [{name: 😀, image: 😀}]}\n",
    "apiVersion: v1\nkind: List\nitems: [5, null, {kind: Pod}]\n",
    "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: {spec: {template: []}}}\n",
    "[" * 3000 + "]" * 3000 + "\n",
    "a:\n" + "  " * 3000 + "b\n",
    "x: " + "y" * 1_000_000 + "\n",
]


@pytest.mark.parametrize("profile", [None, "cerit", "best-practices"])
@pytest.mark.parametrize("manifest", ODD, ids=range(len(ODD)))
@in_module_loop
async def test_valid_yaml_of_the_wrong_shape_is_answered(k8s, manifest, profile):
    report = await answer(k8s, "k8s_validate", {"manifest": manifest, "profile": profile})
    assert not isinstance(report, str), report  # validation always answers with findings
    assert all(
        f["rule"] and f["severity"] in ("error", "warning", "info") for f in report.structured_content["findings"]
    )
    await answer(k8s, "k8s_fix", {"manifest": manifest, "profile": profile})


SCALAR_WHERE_A_LIST_BELONGS = [
    POD.format(spec="{volumes: 5, containers: [{name: c, image: i}]}"),
    POD.format(spec="{volumes: true, containers: [{name: c, image: i, volumeMounts: 7}]}"),
    POD.format(spec="{containers: [{name: c, image: i, ports: 8080}]}"),
    POD.format(spec="{containers: [{name: c, image: i, ports: true}]}"),
    POD.format(spec="{securityContext: {sysctls: 5}, containers: [{name: c, image: i}]}"),
    "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: {a: b}}\n---\napiVersion: policy/v1\n"
    "kind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {selector: {matchLabels: [a], matchExpressions: 5}}\n---\n"
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}, matchExpressions: "
    "[{key: a, operator: In, values: 5}]}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}}\n",
]


@in_module_loop
@pytest.mark.parametrize("profile", ["restricted", "cerit", "best-practices"])
@pytest.mark.parametrize("manifest", SCALAR_WHERE_A_LIST_BELONGS, ids=range(len(SCALAR_WHERE_A_LIST_BELONGS)))
async def test_a_scalar_where_a_list_belongs_is_a_schema_finding(k8s, manifest, profile):
    # `volumes: 5`, `ports: true`, `sysctls: 5`: the rules iterated them and the call crashed
    report = await answer(k8s, "k8s_validate", {"manifest": manifest, "profile": profile})
    assert not isinstance(report, str), report
    assert any(f["rule"] == "schema" for f in report.structured_content["findings"])
    fixed = await answer(k8s, "k8s_fix", {"manifest": manifest, "profile": profile})
    assert not isinstance(fixed, str), fixed


@in_module_loop
async def test_python_tags_are_findings_not_code(k8s):
    report = await answer(k8s, "k8s_validate", {"manifest": "!!python/object/apply:os.system ['touch /tmp/x']\n"})
    assert report.structured_content["findings"][0]["rule"] == "yaml-syntax"
    assert "constructor" in report.structured_content["findings"][0]["message"]


@pytest.mark.parametrize(
    "args",
    [
        {"kubernetes_version": ""},
        {"kubernetes_version": " "},
        {"kubernetes_version": "\x00"},
        {"kubernetes_version": "1.99"},
        {"kubernetes_version": "1." + "9" * 500},
        {"kubernetes_version": "😀"},
        {"profile": ""},
        {"profile": "\u202e"},
        {"profile": "../../etc/passwd"},
        {"profile": "x" * 5000},
    ],
)
@in_module_loop
async def test_odd_versions_and_profiles(k8s, args):
    for tool in ("k8s_validate", "k8s_fix"):
        result = await answer(k8s, tool, {"manifest": POD.format(spec="{containers: []}"), **args})
        if isinstance(result, str):
            assert "not available" in result or "unknown profile" in result


@pytest.mark.parametrize(
    "args",
    [
        {"rule": ""},
        {"rule": "\x00"},
        {"rule": "x" * 5000},
        {"profile": " "},
        {"profile": "nope", "rule": "privilege-escalation"},
        {"profile": "cerit", "rule": "nope"},
    ],
)
@in_module_loop
async def test_odd_rules_questions(k8s, args):
    result = await answer(k8s, "k8s_rules", args)
    assert isinstance(result, str) or result.structured_content


@pytest.mark.parametrize("topic", ["", " ", "\x00", "../examples/vllm", " VLLM ", "😀", "x" * 10_000])
@in_module_loop
async def test_odd_example_topics(k8s, topic):
    await answer(k8s, "k8s_example", {"topic": topic})


# -- property: no YAML-ish text crashes either tool ------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        "apiVersion: v1\n",
        "kind: Pod\n",
        "kind: Deployment\n",
        "metadata:\n",
        "  name: x\n",
        "spec:\n",
        "  containers:\n",
        "  - name: c\n",
        "    image: i\n",
        "    resources: {limits: {cpu: ",
        "1",
        "x",
        "!!int ",
        "!!bool ",
        "!!float ",
        "!!timestamp ",
        "!!binary ",
        "!!set ",
        "!!omap ",
        "!foo ",
        "&a ",
        "*a ",
        "<<: ",
        "? ",
        ": ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "---\n",
        "...\n",
        "\n",
        "  ",
        "'",
        '"',
        "#",
        "|\n",
        ">\n",
        "\x00",
        "\u202e",
        "😀",
        "null",
        "~",
        "yes",
        "0x1F",
        "1e400",
        ".nan",
        "  volumes: ",
        "    ports: ",
        "  securityContext: {sysctls: ",
        "selector: {matchLabels: ",
        "5",
        "true",
        "[a]",
    ]
)


@pytest.fixture(scope="module")
def call_tool():
    """One server with its worker pool, open in an event loop of its own for the whole module:
    hypothesis drives the examples synchronously, and a pool cannot outlive the loop it started in."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    client = Client(server())

    def run(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=120)

    run(client.__aenter__())
    yield lambda tool, args: run(answer(client, tool, args))
    run(client.__aexit__(None, None, None))
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    manifest=st.lists(FRAGMENTS, max_size=30).map("".join), profile=st.sampled_from([None, "cerit", "best-practices"])
)
def test_property_no_manifest_crashes_a_tool(call_tool, manifest, profile):
    call_tool("k8s_validate", {"manifest": manifest, "profile": profile})
    call_tool("k8s_fix", {"manifest": manifest, "profile": profile})
