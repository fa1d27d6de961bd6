"""Documentation that runs: README's Python blocks, the examples, and the CLI commands."""

from __future__ import annotations

import ast
import re
import runpy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from symml.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
DOC_PAGES = sorted((ROOT / "docs").glob("*.md"))


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_readme_has_python_examples() -> None:
    assert len(_python_blocks(ROOT / "README.md")) >= 3


def _is_check(node: ast.AST) -> bool:
    """An ``assert`` statement, or a call of a raising checker such as ``assert_equivariant``."""
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        return name.startswith("assert_")
    return False


@pytest.mark.parametrize("path", [ROOT / "README.md", *DOC_PAGES], ids=lambda p: p.name)
def test_every_python_block_checks_its_results(path: Path) -> None:
    """A block that only prints would pass whatever it printed: each one asserts what it shows."""
    for number, block in enumerate(_python_blocks(path), start=1):
        assert any(_is_check(node) for node in ast.walk(ast.parse(block))), (
            f"{path.name}: python block {number} checks nothing; assert the result it shows"
        )


def test_readme_python_blocks_run() -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    for block in _python_blocks(ROOT / "README.md"):
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own docs


@pytest.mark.parametrize("path", DOC_PAGES, ids=[p.name for p in DOC_PAGES])
def test_doc_page_python_blocks_run(path: Path) -> None:
    namespace: dict[str, object] = {"__name__": path.stem}
    for block in _python_blocks(path):
        exec(compile(block, path.name, "exec"), namespace)  # noqa: S102 - our own docs


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip(), f"{path.name} printed nothing"


def test_cli_list() -> None:
    result = CliRunner().invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    assert "Dihedral" in result.output or "dihedral" in result.output
    assert "regular(G)" in result.output


def test_cli_tour() -> None:
    result = CliRunner().invoke(app, ["tour"])
    assert result.exit_code == 0, result.output
    assert "Character table" in result.output
    assert "irrep(O3(), (2, 1))" in result.output


def test_cli_decompose() -> None:
    result = CliRunner().invoke(app, ["decompose", "tensor(standard(SO2()), irrep(SO2(), 3))"])
    assert result.exit_code == 0, result.output
    assert "irrep(SO2(), 2)" in result.output and "irrep(SO2(), 4)" in result.output


def test_cli_decompose_rejects_bad_expression() -> None:
    result = CliRunner().invoke(app, ["decompose", "__import__('os')"])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_cli_data_list() -> None:
    result = CliRunner().invoke(app, ["data", "list"])
    assert result.exit_code == 0, result.output
    assert "rotated_mnist" in result.output and "Searched for data files" in result.output


def test_cli_data_prepare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SYMML_CACHE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["data", "prepare", "tetris3d", "o5_synthetic"])
    assert result.exit_code == 0, result.output
    assert "holdout_test" in result.output and "Orthogonal(5)" in result.output


def test_cli_data_prepare_reports_missing_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SYMML_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["data", "prepare", "mnist"])
    assert result.exit_code == 2  # missing data: a user-fixable error (docs/experiments.md)
    assert "not found. Searched" in result.output


def test_cli_list_shows_models() -> None:
    result = CliRunner().invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    assert "emlp" in result.output and "mlp" in result.output


def test_cli_check_model_with_options() -> None:
    args = ["check", "emlp", "-s", "group=SO3", "-s", "rep_in=2*V", "-s", "rep_out=V"]
    result = CliRunner().invoke(app, [*args, "-s", "hidden=24", "-s", "num_layers=1"])
    assert result.exit_code == 0, result.output
    error = float(result.output.split("output")[-1].split()[1])
    assert error < 1e-5


def test_cli_check_unknown_model_is_one_line() -> None:
    result = CliRunner().invoke(app, ["check", "no_such_model"])
    assert result.exit_code == 2
    assert "unknown model 'no_such_model'" in result.output and "Traceback" not in result.output
