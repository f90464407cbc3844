"""The GitHub Actions workflows: actionlint finds nothing in them, and the book's workflow builds
the book as ``make book`` does (warnings are errors) and deploys ``_build/html`` to Pages."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
BOOK_WORKFLOW = REPO / ".github" / "workflows" / "book.yml"


def actionlint() -> str:
    """The actionlint binary: beside this Python (requirements.txt installs it), else on PATH."""
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.skip(f"actionlint not found beside {sys.executable} nor on PATH (pip install -r requirements.txt)")
    return found


def run_actionlint(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [actionlint(), "-no-color", "-oneline", *map(str, files)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    assert WORKFLOWS, "no workflow under .github/workflows/"
    result = run_actionlint(*WORKFLOWS)
    findings = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not findings, f"actionlint (exit {result.returncode}):\n{findings}"


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on:\n  push:\n    branch: main\njobs:\n  build:\n    runs-on: linux-latest\n"
        "    steps:\n      - run: echo '${{ github.event.head_commit.message }}'\n"
    )
    result = run_actionlint(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    for expected in ('unexpected key "branch"', 'label "linux-latest" is unknown', "potentially untrusted"):
        assert expected in result.stdout, f"actionlint missed: {expected}\n{result.stdout}"


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in _steps(job))


def _uses(job: dict, action: str) -> list[dict]:
    return [s for s in _steps(job) if str(s.get("uses", "")).split("@")[0] == action]


def make_recipe(target: str) -> str:
    """The command lines of a Makefile target."""
    lines = (REPO / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{re.escape(target)}\s*:", line))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return "\n".join(recipe)


@pytest.fixture(scope="module")
def workflow() -> dict:
    data = yaml.safe_load(BOOK_WORKFLOW.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def test_the_book_is_built_with_warnings_as_errors_and_checked(workflow: dict) -> None:
    html = workflow["jobs"]["html"]
    runs = _runs(html)
    assert re.search(r"^make book$", runs, re.M), "the workflow does not build with `make book`"
    assert re.search(r"jupyter-book build \. .*-W", make_recipe("book")), "`make book` does not build with -W"
    assert "--keep-going" in make_recipe("book") and " -n" in make_recipe("book")
    assert runs.index("make book") < runs.index("make check-book"), "the built book is not checked"
    assert "REC_UNLEARN_REQUIRE_BOOK=1" in make_recipe("check-book")
    assert "scripts/check_book_in_browser.py" in make_recipe("check-book")
    setup = _uses(html, "actions/setup-python")
    assert setup and str(setup[0]["with"]["python-version"]) == "3.11"
    assert "make setup" in runs and "download.pytorch.org/whl/cpu" in workflow["env"]["TORCH_INDEX"], "no CPU torch"


def test_the_built_html_is_deployed_to_pages(workflow: dict) -> None:
    assert {"push", "workflow_dispatch", "release"} <= set(workflow["on"])
    assert workflow["on"]["push"]["branches"] == ["main"]
    html, deploy = workflow["jobs"]["html"], workflow["jobs"]["deploy"]
    upload = _uses(html, "actions/upload-pages-artifact")
    assert upload and upload[0]["with"]["path"] == "_build/html", "the Pages artifact is not _build/html"
    assert _steps(html).index(upload[0]) > max(i for i, s in enumerate(_steps(html)) if "check-book" in s.get("run", ""))
    assert deploy["needs"] == "html" and _uses(deploy, "actions/deploy-pages")
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert "refs/heads/main" in deploy["if"]


def test_a_release_gets_the_pdf(workflow: dict) -> None:
    pdf = workflow["jobs"]["pdf"]
    assert "release" in pdf["if"] and pdf["permissions"] == {"contents": "write"}
    runs = _runs(pdf)
    assert "apt-get install" in runs and "latexmk" in runs and "texlive-latex-extra" in runs
    assert "make pdf" in runs and "gh release upload" in runs
    assert "--builder pdflatex" in make_recipe("pdf")
