"""Bad input to every npm tool over MCP (in memory, with the runtime's middleware), against the real
Verdaccio of conftest.py with a few packages whose published manifests have the wrong shapes (the
public registry holds such packages too). Every call ends in an answer or a refusal a model can act
on, never `internal error`."""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bad_input_testing import answer
from fleet_testing import fleet_client
from local_http import Reply, Request, serving
from mcpfleet.common.settings import load_settings
from mcpfleet.common.untrusted import unwrap
from mcpfleet.servers.npm import deptree
from mcpfleet.servers.npm.audit import wanted_versions
from mcpfleet.servers.npm.packages import summary, summary_text

in_module_loop = pytest.mark.asyncio(loop_scope="module")

ODD_MANIFESTS = [
    {
        "name": "bad-input-deps-list",
        "version": "1.0.0",
        "dependencies": ["alpha"],
        "peerDependencies": "alpha",
        "optionalDependencies": {"alpha": 5, "zero": None},
    },
    {
        "name": "bad-input-fields",
        "version": "1.0.0",
        "license": {"type": "MIT"},
        "repository": 5,
        "engines": "node 18",
        "types": ["x"],
        "exports": [1, {"a": None}],
        "type": 7,
        "homepage": ["x"],
        "keywords": "a,b",
        "bin": 5,
        "description": ["x"],
        "author": 5,
        "deprecated": 5,
    },
    # not published here: `description: 5` breaks Verdaccio's own search for every later test
    # (test_summary_of_a_packument_with_numbers_where_text_belongs covers it without a registry)
    {
        "name": "bad-input-specs",
        "version": "1.0.0",
        "dependencies": {
            "alpha": "^^^",
            "zero": "file:../x",
            "cyc-a": "npm:cyc-b@^1",
            "no-such-package-anywhere": "^1",
            "cyc-b": "latest",
            "r": "",
            "t": "workspace:*",
            "w": "1.0.0 - ",
        },
    },
    {
        "name": "bad-input-parent",
        "version": "1.0.0",
        "dependencies": {"bad-input-deps-list": "*", "bad-input-specs": "*"},
        "peerDependencies": ["x"],
    },
]
# The bulk-advisory answer shaped wrongly in every place it can be (the endpoint is outside the fleet)
ODD_ADVISORIES = {
    "alpha": [
        {"id": 1, "vulnerable_versions": "<1.1.0", "severity": "high", "title": "real one"},
        5,
        None,
        {"vulnerable_versions": "^^^"},
        {
            "vulnerable_versions": ["x"],
            "cvss": [1],
            "cwe": "CWE-1",
            "severity": {"a": 1},
            "title": ["x"],
            "id": {"a": 1},
        },
    ],
    "zero": "nope",
}


def odd_advisories(request: Request) -> Reply:
    if request.method != "POST":
        return Reply(501, "Unsupported method")
    return Reply(body={k: v for k, v in ODD_ADVISORIES.items() if k in request.json()})


@pytest.fixture(scope="module")
def registry(verdaccio):
    for manifest in ODD_MANIFESTS:
        verdaccio.publish(manifest, "# readme\n\n" + "\u202e\u200bx\x00 " * 50)
    with serving(default=odd_advisories) as advisories:  # the one fake remote, answering every POST
        yield verdaccio, advisories.url("/-/npm/v1/security/advisories/bulk")


def npm_settings(registry):
    verdaccio, audit_url = registry
    return load_settings(
        http={"allow": ["127.0.0.1"]}, servers={"npm": {"registry": verdaccio.url, "audit_url": audit_url}}
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def npm(registry):
    async with fleet_client("npm", npm_settings(registry)) as c:  # telemetry masks crashes as production does
        yield c


@in_module_loop
@pytest.mark.parametrize("depth", [2, 20])
async def test_dependency_trees_through_manifests_of_the_wrong_shape(npm, depth):
    # dependencies as a list (in the root's child) used to crash the tree walk
    result = await answer(npm, "npm_dependencies", {"name": "bad-input-parent", "depth": depth})
    assert not isinstance(result, str), result
    children = {c["name"]: c for c in result.structured_content["tree"]["dependencies"]}
    assert children["bad-input-deps-list"]["version"] == "1.0.0"
    assert "peer" not in children["bad-input-deps-list"]  # a peerDependencies string is not a map
    specs = {c["name"]: c for c in children["bad-input-specs"]["dependencies"]}
    assert "error" in specs["zero"] and "error" in specs["alpha"] and specs["cyc-b"]["version"] == "1.0.0"


@in_module_loop
@pytest.mark.parametrize("name", [m["name"] for m in ODD_MANIFESTS])
async def test_every_tool_on_odd_manifests(npm, name):
    for tool in ("npm_package", "npm_versions", "npm_readme", "npm_dependencies"):
        result = await answer(npm, tool, {"name": name})
        assert not isinstance(result, str), f"{tool}: {result}"


def test_summary_of_a_packument_with_numbers_where_text_belongs():
    manifest = {
        "name": "p",
        "version": "1.0.0",
        "description": 5,
        "maintainers": [{"name": 5}, None, "x"],
        "dist": "x",
        "peerDependenciesMeta": ["x"],
        "dependencies": ["a"],
    }
    doc = {"name": "p", "dist-tags": {"latest": "1.0.0"}, "versions": {"1.0.0": manifest}, "time": "x"}
    s = summary(doc, "1.0.0", None)
    assert s["description"] == "5" and s["maintainers"] == ["5", "x"] and s["published"] is None
    assert "p@1.0.0: 5" in summary_text(s)
    direct = deptree.direct_dependencies(manifest)  # peerDependenciesMeta ["x"] used to crash here
    assert "dependencies" not in direct and "optional_peers" not in direct


@in_module_loop
@pytest.mark.parametrize("lock", ["[" * 100_000 + "]" * 100_000, '{"a": ' * 50_000 + "1" + "}" * 50_000])
async def test_a_lockfile_nested_too_deeply_is_refused(npm, lock):
    refusal = await answer(npm, "npm_audit", {"packages": lock})
    assert isinstance(refusal, str) and "package-lock.json" in refusal


async def test_lockfile_shapes_npm_writes():
    # a BOM (Windows editors) and an unnamed workspace folder entry (npm 7+) are real lockfiles
    bom = "\ufeff" + json.dumps({"packages": {"node_modules/alpha": {"version": "1.0.0"}}})
    assert wanted_versions(bom) == {"alpha": ["1.0.0"]}
    workspaces = json.dumps(
        {
            "lockfileVersion": 3,
            "packages": {
                "": {"name": "root", "workspaces": ["packages/*"]},
                "packages/tool": {"version": "0.1.0"},
                "node_modules/tool": {"resolved": "packages/tool", "link": True},
                "node_modules/alpha": {"version": "1.0.0"},
            },
        }
    )
    assert wanted_versions(workspaces) == {"alpha": ["1.0.0"]}


@in_module_loop
async def test_an_advisory_answer_of_the_wrong_shape(npm):
    result = await answer(npm, "npm_audit", {"packages": {"alpha": "1.0.0", "zero": "0.1.0"}})
    assert not isinstance(result, str), result
    assert next(unwrap(f["title"]) for f in result.structured_content["findings"]) == "real one"


@in_module_loop
@pytest.mark.parametrize(
    "args",
    [
        {"name": ""},
        {"name": " "},
        {"name": "\x00"},
        {"name": "a\x00b"},
        {"name": "😀"},
        {"name": "\u202e\u200b"},
        {"name": "x" * 214},
        {"name": "@types/"},
        {"name": "@"},
        {"name": ".alpha"},
        {"name": "../alpha"},
        {"name": "%2e%2e"},
        {"name": "alpha?x"},
        {"name": "http://x"},
        {"name": "alpha@1.0.0"},
        {"name": "alpha", "version": "\x00"},
        {"name": "alpha", "version": "^^^"},
        {"name": "alpha", "version": "1.0.0 - "},
        {"name": "alpha", "version": "9" * 256},
        {"name": "alpha", "version": "a" * 256},
        {"name": "alpha", "version": "<0"},
        {"name": "alpha", "version": "||"},
    ],
)
async def test_odd_names_and_versions(npm, args):
    for tool in ("npm_package", "npm_readme", "npm_dependencies"):
        await answer(npm, tool, args)
    await answer(npm, "npm_versions", {"name": args["name"], "range": args.get("version", "")})


@in_module_loop
@pytest.mark.parametrize(
    "args",
    [{"start_index": 10**30}, {"start_index": 2**63, "max_length": 100_000}, {"start_index": 5, "max_length": 100}],
)
async def test_readme_offsets(npm, args):
    result = await answer(npm, "npm_readme", {"name": "alpha", **args})
    if args["start_index"] > 10**6:
        assert isinstance(result, str) and "past the end" in result


@in_module_loop
@pytest.mark.parametrize("query", [" ", "\x00", "😀", "*", "%", '"', "\\", "&q=x", "x" * 200])
async def test_odd_search_queries(npm, query):
    await answer(npm, "npm_search", {"query": query, "limit": 50})


# -- property: no lockfile-shaped JSON crashes npm_audit -------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.sampled_from(["1.0.0", "0.1.0", "alpha", "node_modules/alpha", "^1", ""]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "packages",
                    "dependencies",
                    "version",
                    "name",
                    "link",
                    "",
                    "node_modules/alpha",
                    "node_modules/zero",
                    "alpha",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=25,
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(JSON)
def test_property_no_json_crashes_npm_audit(registry, lock):
    async def run() -> None:
        async with fleet_client("npm", npm_settings(registry)) as c:
            await answer(c, "npm_audit", {"packages": json.dumps(lock)})

    asyncio.run(run())


def odd_packuments(base: str) -> dict:
    """Packuments of shapes no real registry should send, as a fake registry's routes."""

    def manifest(name: str, version: str, **extra) -> dict:
        tarball = f"{base}/{name}/-/{name}-{version}.tgz"
        return {"name": name, "version": version, "readme": f"# {name}", "dist": {"tarball": tarball}, **extra}

    docs = {
        "tags-a-list": {
            "name": "tags-a-list",
            "dist-tags": ["1.0.0"],
            "versions": {"1.0.0": manifest("tags-a-list", "1.0.0")},
        },
        "tags-of-numbers": {
            "name": "tags-of-numbers",
            "dist-tags": {"latest": 5, "next": ["1.0.0"], "beta": "1.0.0"},
            "versions": {"1.0.0": manifest("tags-of-numbers", "1.0.0")},
        },
        "manifest-a-string": {
            "name": "manifest-a-string",
            "dist-tags": {"latest": "2.0.0"},
            "versions": {"2.0.0": "x", "1.0.0": manifest("manifest-a-string", "1.0.0")},
        },
        "odd-parent": {
            "name": "odd-parent",
            "dist-tags": {"latest": "1.0.0"},
            "versions": {
                "1.0.0": manifest(
                    "odd-parent",
                    "1.0.0",
                    dependencies={"tags-a-list": "latest", "tags-of-numbers": "next", "manifest-a-string": "^2"},
                )
            },
        },
    }
    return {f"/{name}": Reply(body=doc) for name, doc in docs.items()}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def odd_registry():
    with serving() as remote:
        remote.routes.update(odd_packuments(str(remote)))
        settings = load_settings(http={"allow": ["127.0.0.1"]}, servers={"npm": {"registry": f"{remote}/"}})
        async with fleet_client("npm", settings) as c:
            yield c


@in_module_loop
@pytest.mark.parametrize("name", ["tags-a-list", "tags-of-numbers", "manifest-a-string", "odd-parent"])
async def test_packuments_with_dist_tags_or_manifests_of_the_wrong_shape(odd_registry, name):
    # dist-tags as a list crashed version picking ('list' object has no attribute 'get'), and a
    # manifest that is not an object crashed every reader of it
    for tool in ("npm_package", "npm_versions", "npm_readme", "npm_dependencies"):
        result = await answer(odd_registry, tool, {"name": name})
        assert not isinstance(result, str), f"{tool}: {result}"
    versions = (await answer(odd_registry, "npm_versions", {"name": name})).structured_content
    assert all(isinstance(v, str) for v in versions["dist_tags"].values())


@in_module_loop
async def test_odd_tags_and_manifests_are_left_out_as_npm_skips_them(odd_registry):
    facts = (await answer(odd_registry, "npm_package", {"name": "manifest-a-string"})).structured_content
    assert facts["version"] == "1.0.0"  # 2.0.0's manifest is a string: not installable
    tree = (await answer(odd_registry, "npm_dependencies", {"name": "odd-parent", "depth": 2})).structured_content
    tree = tree["tree"]
    children = {c["name"]: c for c in tree["dependencies"]}
    assert children["tags-a-list"]["version"] == "1.0.0"  # "latest": no usable tag, so the newest
    assert "error" in children["tags-of-numbers"]  # "next" names a list: neither a tag nor a range
    assert "error" in children["manifest-a-string"]  # ^2 matches only the unreadable manifest
