"""Chunking by heading structure: markdown, MDX, rst, notebooks; code blocks never split."""

from __future__ import annotations

import json

from mcpfleet.servers.docs.chunking import blocks, parse_document, split_long


def headings(doc):
    return [s.heading_path for s in doc.sections]


def test_markdown_heading_paths_and_front_matter():
    # the front matter's title is the page's title and repeated by its H1: one copy in the path
    text = "---\ntitle: Guide\n---\n# Guide\n\nIntro.\n\n## Install\n\nRun it.\n\n### Docker\n\nUse the image.\n\n## Usage\n\nCall it.\n"
    doc = parse_document("docs/guide.md", text)
    assert doc.title == "Guide"
    assert headings(doc) == ["Guide", "Guide > Install", "Guide > Install > Docker", "Guide > Usage"]
    assert doc.sections[2].body == "Use the image."
    assert "title: Guide" not in doc.text


def test_front_matter_title_roots_the_heading_path():
    # Mintlify/Docusaurus pages often have no H1: 'gpu.mdx' showed as "Nvidia" before
    text = (
        '---\ntitle: "Hardware support"\nsidebar_label: GPUs\ndescription: Which GPUs run models\n'
        "tags: [a, b]\n---\n\n## Nvidia\n\nCompute capability 5.0+.\n\n### GPU Selection\n\nSet it.\n"
    )
    doc = parse_document("docs/gpu.mdx", text)
    assert doc.title == "Hardware support"
    assert headings(doc) == ["Hardware support > Nvidia", "Hardware support > Nvidia > GPU Selection"]
    assert doc.front_matter == {
        "title": "Hardware support",
        "sidebar_label": "GPUs",
        "description": "Which GPUs run models",
    }
    assert doc.about == "GPUs Which GPUs run models"
    # an H1 that differs from the title stays under it
    other = parse_document("a.md", "---\ntitle: Rate limits\n---\n# Envoy AI Gateway\n\n## Setup\n\nx\n")
    assert headings(other) == ["Rate limits > Envoy AI Gateway > Setup"]


def test_broken_front_matter_costs_its_metadata_not_the_page():
    doc = parse_document("docs/front.md", "---\ntitle: [1, 2\n---\n# Front\n\nBody.\n")
    assert doc.title == "Front" and headings(doc) == ["Front"] and "Body." in doc.sections[0].body
    unclosed = parse_document("docs/open.md", "---\ntitle: Open\n\n# Open\n\nBody.\n")
    assert "Body." in unclosed.text


def test_mdx_module_statements_and_inline_components_go_text_attributes_stay():
    text = (
        'import Tabs from "@theme/Tabs";\nimport {\n  A,\n  B,\n} from "./parts";\n'
        "export const meta = {\n  a: 1,\n};\n\n# Install\n\n<Note>Needs **root**.</Note> Then run it.\n\n"
        '<Tabs>\n<Tab title="Linux">\n\nUse the script.\n\n</Tab>\n</Tabs>\n\n'
        '<ApiField\n  name="storageUri"\n  type="string"\n  description="Where the model is"\n/>\n\n'
        '{/* hidden */}Use `<Tab>` in code spans as is.\n\n```js\nimport x from "y";\n<Tabs/>\n```\n'
    )
    body = parse_document("i.mdx", text).sections[0].body
    for gone in ("import Tabs", 'from "./parts"', "export const", "a: 1", "<Note>", "</Note>", "<ApiField", "hidden"):
        assert gone not in body, gone
    assert "Needs **root**. Then run it." in body and "Linux" in body and "Use the script." in body
    assert "storageUri — string — Where the model is" in body
    assert "Use `<Tab>` in code spans as is." in body
    assert '```js\nimport x from "y";\n<Tabs/>\n```' in body


def test_md_files_importing_components_are_read_as_mdx_others_are_not():
    docusaurus = parse_document(
        "d.md",
        'import TabItem from \'@theme/TabItem\';\n\n# T\n\n<TabItem value="a" label="Knative">\n\nx\n\n</TabItem>\n',
    )
    assert "<TabItem" not in docusaurus.text and "Knative" in docusaurus.text
    plain = parse_document("p.md", "# T\n\nimport the data first, then\nexport FOO=1 and pass <Model> as <Name>.\n")
    assert "import the data first" in plain.text and "export FOO=1" in plain.text and "<Model>" in plain.text


def test_hash_lines_inside_code_are_not_headings():
    text = "# Shell\n\n```bash\n# install\npip install x\n\n# run\nx --go\n```\n\n## After\n\nDone.\n"
    doc = parse_document("a.md", text)
    assert headings(doc) == ["Shell", "Shell > After"]
    assert "# install" in doc.sections[0].body and "# run" in doc.sections[0].body


def test_setext_headings_and_rules_under_lists():
    text = "Title\n=====\n\nBody one.\n\nPart\n----\n\nBody two.\n\n- item\n---\n\nstill part\n"
    doc = parse_document("a.md", text)
    assert headings(doc) == ["Title", "Title > Part"]
    assert "still part" in doc.sections[1].body


def test_heading_markup_is_cleaned():
    doc = parse_document("a.md", "# The `Client` [class](x.md) {#client}\n\ntext\n")
    assert doc.sections[0].heading_path == "The Client class"


def test_mdx_drops_imports_and_jsx_lines_but_keeps_text_and_code():
    text = "import X from 'y'\nexport const meta = {}\n\n# Caching\n\n<Tabs>\n<TabItem value=\"a\">\n\nCached for 60 s.\n\n```jsx\n<Tabs>\n```\n\n</TabItem>\n</Tabs>\n"
    doc = parse_document("c.mdx", text)
    assert headings(doc) == ["Caching"]
    body = doc.sections[0].body
    assert "import X" not in body and "<TabItem" not in body
    assert "Cached for 60 s." in body and "```jsx\n<Tabs>\n```" in body


def test_rst_levels_follow_adornment_order():
    text = (
        "=====\nTitle\n=====\n\nIntro.\n\nSection A\n---------\n\nText A::\n\n    code a\n\n    more code\n\n"
        "Sub\n~~~\n\nText sub.\n\nSection B\n---------\n\nText B.\n"
    )
    doc = parse_document("r.rst", text)
    assert headings(doc) == ["Title", "Title > Section A", "Title > Section A > Sub", "Title > Section B"]
    assert "more code" in doc.sections[1].body


def test_notebook_markdown_and_code_cells():
    nb = {
        "metadata": {"kernelspec": {"language": "python"}},
        "cells": [
            {"cell_type": "markdown", "source": ["# Tour\n", "Plot it.\n"]},
            {"cell_type": "code", "source": "x = 1\nprint(x)", "outputs": [{"text": "1"}]},
            {"cell_type": "raw", "source": "ignored"},
        ],
    }
    doc = parse_document("t.ipynb", json.dumps(nb))
    assert headings(doc) == ["Tour"]
    assert "```python\nx = 1\nprint(x)\n```" in doc.sections[0].body
    assert "ignored" not in doc.text


def test_broken_notebook_is_empty_not_an_error():
    assert parse_document("t.ipynb", "{not json").sections == []


def test_plain_text_uses_the_file_name():
    doc = parse_document("docs/notes.txt", "Line one.\n\nLine two.\n")
    assert doc.title == "notes" and headings(doc) == ["notes"]


def test_long_sections_split_between_paragraphs_and_code_stays_whole():
    code = "```python\n" + "\n\n".join(f"line_{i} = {i}" for i in range(60)) + "\n```"
    paragraphs = [f"Paragraph {i} " + "word " * 40 for i in range(12)]
    body = "\n\n".join(paragraphs[:6] + [code] + paragraphs[6:])
    doc = parse_document("long.md", "# Long\n\n" + body, max_chars=800)
    assert len(doc.sections) > 3
    assert all(s.heading_path == "Long" for s in doc.sections)
    with_code = [s.body for s in doc.sections if "```python" in s.body]
    assert len(with_code) == 1 and with_code[0].count("```") == 2 and "line_59 = 59" in with_code[0]
    assert all(len(s.body) <= 800 for s in doc.sections if "```" not in s.body)
    joined = "\n\n".join(s.body for s in doc.sections)
    assert all(p.strip() in joined for p in paragraphs)


def test_blocks_glue_indented_continuations():
    assert blocks("Example::\n\n    a\n\n    b\n\nNext.") == ["Example::\n\n    a\n\n    b", "Next."]
    assert split_long("short", 10) == ["short"]
