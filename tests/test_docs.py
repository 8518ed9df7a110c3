"""The generated docs: docs/index.md, docs/resources/*.md, docs/data-sources/*.md and the module READMEs'
Inputs/Outputs tables are exactly what scripts/docs.py writes from the provider's schema (read through the real
terraform from the provider binary under test), the check notices a changed description, every example the pages
show is formatted and passes `terraform validate` with the real provider, and the README links every page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT
from harness.terraform import required_providers_hcl

DOCS_SCRIPT = REPO_ROOT / "scripts" / "docs.py"
EXAMPLES = REPO_ROOT / "examples"


def run_docs(*args: str, binary: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(DOCS_SCRIPT), "--binary", str(binary), *args],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
    )


def load_docs_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("platformkit_docs", DOCS_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["platformkit_docs"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def schema(provider_binary: Path) -> dict:
    """The provider's schema as `terraform providers schema -json` reports it (through docs.py)."""
    proc = run_docs("--print-schema", binary=provider_binary)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.e2e
def test_committed_docs_are_what_the_command_writes(provider_binary):
    proc = run_docs("--check", binary=provider_binary)
    assert proc.returncode == 0, (
        "the committed docs differ from the provider's schema; run `.tools/venv/bin/python scripts/docs.py`\n"
        + proc.stdout + proc.stderr
    )
    assert "docs up to date" in proc.stdout


@pytest.mark.e2e
def test_every_resource_has_a_page(schema):
    for kind, key, example_name in (
        ("resources", "resource_schemas", "resource.tf"),
        ("data-sources", "data_source_schemas", "data-source.tf"),
    ):
        for type_name, entity in schema.get(key, {}).items():
            page = REPO_ROOT / "docs" / kind / f"{type_name.removeprefix('platform_')}.md"
            assert page.is_file(), page
            text = page.read_text(encoding="utf-8")
            assert f"# {type_name} (" in text
            # A resource merged without examples still gets its page (docs.py warns); one with examples
            # shows them.
            if (EXAMPLES / kind / type_name / example_name).is_file():
                assert "## Example Usage" in text
            if (EXAMPLES / kind / type_name / "import.sh").is_file():
                assert f"terraform import {type_name}." in text
            # every attribute appears, with its description
            for name, attr in entity["block"].get("attributes", {}).items():
                assert f"- `{name}` (" in text, f"{type_name}.{name} missing from {page}"
                assert attr.get("description"), f"{type_name}.{name} has no description in the schema"


@pytest.mark.e2e
def test_check_fails_when_a_description_changes(schema, provider_binary, tmp_path):
    changed = json.loads(json.dumps(schema))
    backend = changed["resource_schemas"]["platform_state_backend"]["block"]["attributes"]
    backend["bucket"]["description"] = "A different description."
    saved = tmp_path / "schema.json"
    saved.write_text(json.dumps(changed), encoding="utf-8")
    proc = run_docs("--check", "--schema-json", str(saved), binary=provider_binary)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "out of date: docs/resources/state_backend.md" in proc.stdout
    assert "docs/resources/environment.md" not in proc.stdout  # only the page that changed


def test_readme_links_every_generated_page():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    pages = sorted((REPO_ROOT / "docs").glob("resources/*.md")) + sorted((REPO_ROOT / "docs").glob("data-sources/*.md"))
    assert pages
    for page in pages:
        rel = page.relative_to(REPO_ROOT).as_posix()
        assert f"]({rel})" in readme, f"README.md does not link {rel}"


def test_module_tables_come_from_variables_and_outputs():
    docs = load_docs_module()
    for readme in sorted((REPO_ROOT / "terraform-modules").glob("*/README.md")):
        text = readme.read_text(encoding="utf-8")
        if docs.BEGIN_MARK not in text:
            continue
        module = readme.parent
        generated = text.split(docs.BEGIN_MARK, 1)[1].split(docs.END_MARK, 1)[0]
        declared_vars = re.findall(r'^variable\s+"([^"]+)"', (module / "variables.tf").read_text(), re.M)
        declared_outs = re.findall(r'^output\s+"([^"]+)"', (module / "outputs.tf").read_text(), re.M)
        listed = re.findall(r"^\| `([^`]+)` \|", generated, re.M)
        assert listed == declared_vars + declared_outs, readme


def test_hcl_reader_handles_heredocs_strings_and_comments(tmp_path):
    docs = load_docs_module()
    text = '''
# a comment with { an unbalanced brace
variable "a" {
  description = "has \\"quotes\\", a } brace and ${var.x} // not a comment"
  type = object({
    x = string # trailing
    y = list(number)
  })
  default = { x = "}", y = [1, 2] }
  validation {
    condition     = var.a.x != "{"
    error_message = "no."
  }
}

/* block comment
variable "hidden" {}
*/
variable "b" {
  description = <<-EOT
    Two lines,
      one indented.
  EOT
  type      = string
  sensitive = true
}
'''
    path = tmp_path / "variables.tf"
    path.write_text(text, encoding="utf-8")
    blocks = docs.module_blocks(path, "variable")
    assert [b["name"] for b in blocks] == ["a", "b"]
    a, b = blocks
    assert docs.hcl_string_value(a["description"]) == 'has "quotes", a } brace and ${var.x} // not a comment'
    assert docs.code_cell(a["type"]) == "`object({ x = string, y = list(number) })`"
    assert docs.code_cell(a["default"]) == '`{ x = "}", y = [1, 2] }`'
    assert docs.hcl_string_value(b["description"]) == "Two lines,\n  one indented."
    assert b["sensitive"] == "true"


@pytest.mark.e2e
@pytest.mark.slow
def test_examples_are_formatted_and_valid(tf_factory, terraform_bin):
    fmt = subprocess.run([str(terraform_bin), "fmt", "-check", "-recursive", "-diff", str(EXAMPLES)],
                         capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    dirs = [EXAMPLES / "provider"] + sorted(p for p in (EXAMPLES / "resources").iterdir() if p.is_dir()) + sorted(
        p for p in (EXAMPLES / "data-sources").iterdir() if p.is_dir()
    )
    for src in dirs:
        tf = tf_factory("filesystem", name=f"{src.parent.name}-{src.name}")
        for f in src.glob("*.tf"):
            shutil.copy(f, tf.workdir / f.name)
        tf.write(required_providers_hcl(), "versions.tf")
        tf.init()
        tf.validate()
