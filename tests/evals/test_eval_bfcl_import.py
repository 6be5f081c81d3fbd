"""`mcpfleet eval import-bfcl`, then `run` and `compare` on the imported cases, as a user runs them:
subprocesses, BFCL's own file format (entries + possible answers), the scripted endpoint."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from fleet_testing import mcpfleet_cmd, running_app, subprocess_env
from mcpfleet.common.errors import ConfigError
from mcpfleet.evals.cases import load_cases
from mcpfleet.evals.runner import ModelTarget, parse_serving
from scripted_llm import ScriptedLLM

AREA = {
    "name": "geometry.area",
    "description": "Area of a shape.",
    "parameters": {
        "type": "dict",
        "properties": {
            "shape": {"type": "string", "description": "circle or square"},
            "size": {"type": "float", "description": "radius or side"},
            "precision": {"type": "integer", "description": "decimals", "default": 2},
        },
        "required": ["shape", "size"],
    },
}
TAGS = {
    "name": "tag_photos",
    "description": "Tag photos.",
    "parameters": {
        "type": "dict",
        "properties": {
            "ids": {"type": "array", "items": {"type": "integer"}, "description": "photo ids"},
            "labels": {"type": "array", "items": {"type": "string"}, "description": "labels"},
            "owner": {"type": "dict", "description": "who", "properties": {"name": {"type": "string"}}},
        },
        "required": ["ids", "labels"],
    },
}
ENTRIES = [
    {
        "id": "simple_python_0",
        "question": [[{"role": "user", "content": "Area of a circle of radius 2, 3 decimals?"}]],
        "function": [AREA],
    },
    {
        "id": "simple_python_1",
        "question": [[{"role": "user", "content": "Tag photos 1 and 2 as Beach, Summer Trip."}]],
        "function": [TAGS],
    },
    {
        "id": "parallel_0",
        "question": [[{"role": "user", "content": "Areas of a square of side 3 and a circle of radius 1."}]],
        "function": [AREA],
    },
    {
        "id": "multiple_0",
        "question": [
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Tag photo 5 for Ann as New York."},
            ]
        ],
        "function": [AREA, TAGS],
    },
    {"id": "irrelevance_0", "question": [[{"role": "user", "content": "Who wrote Hamlet?"}]], "function": [AREA]},
]
ANSWERS = [
    {
        "id": "simple_python_0",
        "ground_truth": [{"geometry.area": {"shape": ["circle"], "size": [2.0], "precision": [3]}}],
    },
    {
        "id": "simple_python_1",
        "ground_truth": [{"tag_photos": {"ids": [[1, 2]], "labels": [["Beach", "Summer Trip"]], "owner": [""]}}],
    },
    {
        "id": "parallel_0",
        "ground_truth": [
            {"geometry.area": {"shape": ["square"], "size": [3.0], "precision": ["", 2]}},
            {"geometry.area": {"shape": ["circle"], "size": [1.0], "precision": ["", 2]}},
        ],
    },
    {
        "id": "multiple_0",
        "ground_truth": [
            {"tag_photos": {"ids": [[5]], "labels": [["New York", "NYC"]], "owner": [{"name": ["Ann"]}, ""]}}
        ],
    },
]


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(mcpfleet_cmd(*args), capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert (done.returncode == 0) is ok, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bfcl")
    (tmp / "entries.json").write_text("".join(json.dumps(e) + "\n" for e in ENTRIES))
    (tmp / "answers.json").write_text("".join(json.dumps(a) + "\n" for a in ANSWERS))
    cases_dir = tmp / "cases"
    cases_dir.mkdir()
    done = cli(
        "eval",
        "import-bfcl",
        str(tmp / "entries.json"),
        "--answers",
        str(tmp / "answers.json"),
        "--server",
        "photos",
        "--out",
        str(cases_dir / "photos.yaml"),
    )
    return tmp, cases_dir, done


def test_import_writes_a_case_file_with_the_matchers_bfcl_means(imported):
    _, cases_dir, done = imported
    assert "5 case(s) (simple 2, parallel 1, multiple 1, irrelevance 1)" in done.stdout
    data = yaml.safe_load((cases_dir / "photos.yaml").read_text())
    by_id = {c["id"]: c for c in data["cases"]}
    area = by_id["photos-simple-simple_python_0"]["expect"][0]
    assert area["name"] == "geometry_area"  # dots as the FC handlers send them
    assert area["args"] == {
        "shape": {"normalised": ["circle"]},
        "size": {"one_of": [2.0]},
        "precision": {"integer": [3]},
    }
    tags = by_id["photos-simple-simple_python_1"]["expect"][0]["args"]
    assert tags["ids"] == {"items": [{"integer": 1}, {"integer": 2}]}
    assert tags["owner"] == {"one_of": [], "optional": True}  # may be omitted, any value is wrong
    multiple = by_id["photos-multiple-multiple_0"]
    assert multiple["system"] == "Be brief." and multiple["expect"][0]["args"]["owner"] == {
        "keys": {"name": {"normalised": ["Ann"]}},
        "optional": True,
    }
    assert set(multiple["functions"]) == {"geometry_area", "tag_photos"}
    assert multiple["functions"]["geometry_area"]["parameters"]["properties"]["size"]["type"] == "number"
    cases = {c.id: c for c in load_cases(directory=cases_dir)}
    check = cases["photos-simple-simple_python_1"].expect[0].args["labels"]
    assert check.check(["BEACH", "summer-trip"]) is None and check.check(["Summer Trip", "Beach"]) is not None
    assert cases["photos-simple-simple_python_0"].expect[0].args["precision"].check(3.0) is not None  # strict int


def test_imported_cases_validate_against_their_own_functions(imported, tmp_path):
    _, cases_dir, _ = imported
    done = cli("eval", "validate", "--cases-dir", str(cases_dir))
    assert "5 case(s) checked" in done.stderr and "all valid" in done.stderr
    data = yaml.safe_load((cases_dir / "photos.yaml").read_text())
    data["cases"][0]["expect"][0]["args"]["shape"] = {"normalised": ["circle"], "optional": True}  # required!
    (tmp_path / "photos.yaml").write_text(yaml.safe_dump(data))
    done = cli("eval", "validate", "--cases-dir", str(tmp_path), ok=False)
    assert "required argument 'shape' is not expected (or marked optional)" in done.stdout


@pytest.fixture(scope="module")
def runs(imported):
    """The imported cases run by the scripted perfect and sloppy personas (no server behind them):
    perfect.jsonl and sloppy.jsonl in the module's folder, for the tests that compare runs."""
    tmp, cases_dir, _ = imported
    cases = load_cases(directory=cases_dir)
    with running_app(ScriptedLLM(cases).app) as url:
        for persona in ("perfect", "sloppy"):
            cli(
                "eval",
                "run",
                "--model",
                persona,
                "--base-url",
                f"{url}/v1",
                "--cases-dir",
                str(cases_dir),
                "--no-progress",
                "--repeats",
                "3",
                "--out",
                str(tmp / f"{persona}.jsonl"),
            )
    return tmp


def test_imported_cases_run_without_a_server_and_compare(runs):
    tmp = runs
    perfect = [json.loads(line) for line in (tmp / "perfect.jsonl").read_text().splitlines()]
    assert len(perfect) == 15 and all(r["scores"]["success"] and r["fault"] is None for r in perfect)
    sloppy = [json.loads(line) for line in (tmp / "sloppy.jsonl").read_text().splitlines()]
    assert not all(r["scores"]["success"] for r in sloppy)
    done = cli("eval", "compare", str(tmp / "perfect.jsonl"), str(tmp / "sloppy.jsonl"), "--html", str(tmp / "c.html"))
    failed = sorted({r["case"] for r in sloppy if not r["scores"]["success"]})
    assert f"## Flipped cases ({len(failed)})" in done.stdout
    for case in failed:
        assert f"| `{case}` | 100.0% | 0.0% | broken in B |" in done.stdout
    # Too few cases for significance: the report says so rather than declaring a winner.
    assert "No significant difference between perfect (perfect) and sloppy (sloppy)" in done.stdout
    assert "id='flipped'" in (tmp / "c.html").read_text()


def test_compare_refuses_an_ambiguous_file(runs, tmp_path):
    tmp = runs
    both = tmp_path / "both.jsonl"
    both.write_text((tmp / "perfect.jsonl").read_text() + (tmp / "sloppy.jsonl").read_text())
    done = cli("eval", "compare", str(both), str(both), ok=False)
    assert "holds 2 runs" in done.stderr and "Traceback" not in done.stderr
    done = cli("eval", "compare", str(both), str(both), "--a", "perfect", "--b", "sloppy")
    assert "perfect vs sloppy" in done.stdout


def test_import_errors_are_clear(tmp_path):
    (tmp_path / "e.json").write_text(json.dumps(ENTRIES[0]) + "\n")
    done = cli("eval", "import-bfcl", str(tmp_path / "e.json"), "--out", str(tmp_path / "bfcl.yaml"), ok=False)
    assert "no possible answer" in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "x.json").write_text(json.dumps({"id": "java_3", "function": []}) + "\n")
    done = cli("eval", "import-bfcl", str(tmp_path / "x.json"), "--out", str(tmp_path / "bfcl.yaml"), ok=False)
    assert "unsupported BFCL category 'java'" in done.stderr


def test_serving_config_labels_rows_and_hashes_the_chat_template(tmp_path):
    template = tmp_path / "tool_chat_template_hermes.jinja"
    template.write_text("{% for m in messages %}{{ m.content }}{% endfor %}")
    raw = {
        "name": "Qwen/Qwen3-32B",
        "base_url": "http://127.0.0.1:1/v1",
        "top_p": 0.9,
        "serving": {
            "engine": "vllm",
            "engine_version": "0.11.0",
            "tool_call_parser": "hermes",
            "reasoning_parser": "qwen3",
            "chat_template": template.name,
        },
    }
    target = ModelTarget.parse(raw, tmp_path)
    import hashlib

    digest = hashlib.sha256(template.read_bytes()).hexdigest()
    assert target.serving["chat_template_sha256"] == digest and target.serving["chat_template"] == template.name
    assert target.params == {"top_p": 0.9}  # serving is not sent to the endpoint
    assert target.label == f"Qwen/Qwen3-32B [vllm 0.11.0, hermes, reasoning qwen3, template {digest[:8]}]"
    assert ModelTarget.parse({**raw, "label": "qwen-hermes"}, tmp_path).label == "qwen-hermes"
    with pytest.raises(ConfigError, match="no such file"):
        parse_serving({"chat_template": "missing.jinja"}, tmp_path)
    with pytest.raises(ConfigError, match="serving takes"):
        parse_serving({"parser": "hermes"})
