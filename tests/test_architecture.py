"""The package tree is the architecture: each layer imports only from the layers before it.

Order: _cache → groups → reps → nn → (models, data, testing) → training → cli (docs/design.md,
"Layers"). ``symml/_cache.py`` (the self-healing on-disk cache that ``nn``'s compiled kernels and
``data`` both use) is the lowest layer: it may import no other symml module. ``models``, ``data``
and ``testing`` share a rank and must not import each other: ``testing`` checks the layers below
it, and ``training`` (which measures every trained model's equivariance error with it) and
``cli`` stand above it. The top-level ``symml/__init__.py`` is exempt: it may re-export from any
layer.

The checker reads source with :mod:`ast` (nothing is imported), so it sees imports inside functions
and ``if TYPE_CHECKING:`` blocks too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "symml"

RANKS: dict[str, int] = {
    "_cache": -1,  # symml/_cache.py: below every layer, so nn and data can both use it
    "groups": 0,
    "reps": 1,
    "nn": 2,
    "models": 3,
    "data": 3,
    "testing": 3,  # the equivariance checker: below training, which measures runs with it
    "training": 4,
    "cli": 5,
}
LAYER_ORDER = "_cache → groups → reps → nn → (models, data, testing) → training → cli"


def _is_layer(name: str) -> bool:
    return name in RANKS


def module_name(path: str) -> str:
    """Dotted module name of a source path relative to the repo root, e.g. ``symml.groups.x``."""
    parts = list(Path(path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    """The layer a ``symml.*`` module belongs to (``symml.cli`` → ``cli``); None for ``symml``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def imported_modules(path: str, source: str) -> list[tuple[int, str]]:
    """(line, absolute module) for every ``symml`` import in ``source``, relative ones resolved."""
    tree = ast.parse(source, filename=path)
    this = module_name(path)
    is_package = Path(path).name == "__init__.py"
    package_parts = this.split(".") if is_package else this.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                if node.level - 1 >= len(package_parts):
                    raise ValueError(
                        f"{path}:{node.lineno}: relative import with level {node.level} goes "
                        f"above the top-level package {PACKAGE!r}"
                    )
                up = package_parts[: len(package_parts) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            if base == PACKAGE:
                # `from symml import nn`: a layer name is that layer; any other name comes from
                # the top-level package itself.
                found += [
                    (node.lineno, f"{PACKAGE}.{alias.name}" if _is_layer(alias.name) else PACKAGE)
                    for alias in node.names
                ]
            else:
                found.append((node.lineno, base))
    return [(line, mod) for line, mod in found if mod.split(".")[0] == PACKAGE]


def violations(path: str, source: str) -> list[str]:
    """Messages for each import in ``source`` (the file at ``path``) that breaks the layer order."""
    src = layer_of(module_name(path))
    if src is None:  # symml/__init__.py re-exports the public surface
        return []
    problems: list[str] = []
    if src not in RANKS:
        problems.append(
            f"{path}: package {src!r} is not in the layer table; add it to RANKS in "
            f"tests/test_architecture.py (order: {LAYER_ORDER})"
        )
        return problems
    for line, module in imported_modules(path, source):
        dst = layer_of(module)
        if dst == src:
            continue
        where = f"{path}:{line}: {src!r} imports {module!r}"
        if dst is None:
            problems.append(
                f"{where}, the top-level package, which re-exports every layer; import from the "
                f"layer itself (e.g. {PACKAGE}.groups)"
            )
        elif dst not in RANKS:
            problems.append(f"{where}, which is not a known layer (order: {LAYER_ORDER})")
        elif RANKS[dst] >= RANKS[src]:
            kind = "a sibling layer" if RANKS[dst] == RANKS[src] else "a later layer"
            problems.append(f"{where}, {kind}; allowed order is {LAYER_ORDER}")
    return problems


def _library_files() -> list[str]:
    files = sorted((ROOT / PACKAGE).rglob("*.py"))
    return [p.relative_to(ROOT).as_posix() for p in files if p != ROOT / PACKAGE / "__init__.py"]


@pytest.mark.parametrize("path", _library_files())
def test_layer_order(path: str) -> None:
    problems = violations(path, (ROOT / path).read_text(encoding="utf-8"))
    assert not problems, "layer order broken:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("symml/groups/x.py", "from symml.nn import foo\n", r"'groups' imports 'symml\.nn'"),
        ("symml/groups/x.py", "import symml.reps.rep as r\n", r"'groups' imports 'symml\.reps"),
        ("symml/groups/x.py", "from .. import reps\n", r"'groups' imports 'symml\.reps'"),
        ("symml/reps/sub/y.py", "from ...nn.linear import L\n", r"imports 'symml\.nn\.linear'"),
        ("symml/nn/__init__.py", "from ..training import fit\n", r"'symml\.training'"),
        ("symml/models/m.py", "from symml.data import build\n", "a sibling layer"),
        ("symml/data/d.py", "from ..models import build\n", "a sibling layer"),
        ("symml/models/m.py", "from symml.testing import check\n", "a sibling layer"),
        ("symml/nn/z.py", "def f() -> None:\n    from symml import testing\n", "a later layer"),
        ("symml/testing/t.py", "from symml.models import build\n", "a sibling layer"),
        ("symml/testing/t.py", "from symml.training import fit\n", "a later layer"),
        ("symml/groups/x.py", "from symml.nowhere import y\n", "not a known layer"),
        ("symml/utils/u.py", "import os\n", "not in the layer table"),
        ("symml/nn/z.py", "from symml import __version__\n", "the top-level package"),
        ("symml/reps/r.py", "import symml\n", "the top-level package"),
        ("symml/_cache.py", "from symml.groups import Cyclic\n", r"'_cache' imports .*a later"),
        ("symml/_cache.py", "from .data.paths import data_dirs\n", "a later layer"),
        ("symml/_cache.py", "import symml\n", "the top-level package"),
    ],
)
def test_checker_reports_violations(path: str, source: str, expected: str) -> None:
    problems = violations(path, source)
    assert len(problems) == 1, problems
    assert re.search(expected, problems[0]), problems[0]


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("symml/reps/r.py", "from symml.groups import Cyclic\nimport torch\n"),
        ("symml/reps/r.py", "from ..groups.cyclic import Cyclic\nfrom .rep import Rep\n"),
        ("symml/nn/__init__.py", "from .linear import EquivariantLinear\n"),
        ("symml/training/loop.py", "from symml import data, models, nn\n"),
        ("symml/cli.py", "from symml.training import run\n"),
        ("symml/testing/t.py", "from symml.nn import Linear\nfrom symml.reps import Rep\n"),
        ("symml/__init__.py", "from symml.testing import check\n"),
        ("symml/training/e.py", "from symml.testing import equivariance_error\n"),
        ("symml/cli.py", "from symml.testing import assert_equivariant\n"),
        ("symml/groups/g.py", "from symml import _cache\n"),
        ("symml/nn/_kernels/native/__init__.py", "from symml._cache import load_or_make\n"),
        ("symml/data/paths.py", "from .._cache import cache_dir\n"),
        ("symml/_cache.py", "import os\nimport torch\n"),
    ],
)
def test_checker_accepts_allowed_imports(path: str, source: str) -> None:
    assert violations(path, source) == []


def test_checker_rejects_relative_import_above_package() -> None:
    with pytest.raises(ValueError, match="goes above the top-level package"):
        imported_modules("symml/cli.py", "from .. import x\n")


# ----- no import cycles inside a layer ----------------------------------------------------------
# Within one layer (a package such as symml/reps, with its subpackages) the modules must form a
# hierarchy too: each module stands above the ones it imports. A cycle that works only through
# the order of imports (or an import moved into a function to dodge it) fails here: every import
# counts, at module level, inside functions and under ``if TYPE_CHECKING:`` alike.


def _import_targets(path: str, source: str) -> list[tuple[int, str, str | None]]:
    """(line, absolute module, imported name or None) for every import in ``source``."""
    tree = ast.parse(source, filename=path)
    this = module_name(path)
    package_parts = this.split(".") if Path(path).name == "__init__.py" else this.split(".")[:-1]
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            up = package_parts[: len(package_parts) - max(node.level - 1, 0)]
            base = (node.module or "") if node.level == 0 else ".".join(up + [node.module or ""])
            found += [(node.lineno, base.rstrip("."), alias.name) for alias in node.names]
    return found


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module → the modules among ``sources`` (repo-relative path → text) that it imports; ``from
    package import sub`` is an import of the submodule ``sub``, ``from package import name`` one
    of the package's ``__init__``."""
    modules = {module_name(path): path for path in sources}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for _, base, name in _import_targets(path, sources[path]):
            target = f"{base}.{name}" if f"{base}.{name}" in modules else base
            if target in modules and target != module:
                graph[module].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle ``[a, b, ..., a]`` in ``graph``, or None when it is acyclic."""
    state: dict[str, str] = {}  # "open" while on the depth-first path, "done" once finished
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def _layer_packages() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / PACKAGE).glob("*/__init__.py"))


@pytest.mark.parametrize("layer", _layer_packages())
def test_no_import_cycle_within_a_layer(layer: str) -> None:
    files = sorted((ROOT / PACKAGE / layer).rglob("*.py"))
    sources = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in files}
    cycle = find_cycle(import_graph(sources))
    assert cycle is None, (
        f"import cycle in {PACKAGE}.{layer}: {' → '.join(cycle or [])}; restructure so that each "
        "module stands above the ones it imports (move what both need into a lower module)"
    )


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (  # the loop symml.reps had: rep → decompose → rep, through a function-level import
            {
                "symml/reps/rep.py": "def decompose():\n    from .decompose import run\n",
                "symml/reps/decompose.py": "from symml.reps.rep import Rep\n",
            },
            ["symml.reps.decompose", "symml.reps.rep", "symml.reps.decompose"],
        ),
        (  # a type-only import counts too, and a submodule imported by name from its package
            {
                "symml/nn/__init__.py": "from symml.nn import a\n",
                "symml/nn/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from symml.nn import b\n",
                "symml/nn/b.py": "from . import a\n",
            },
            ["symml.nn.a", "symml.nn.b", "symml.nn.a"],
        ),
        (  # a submodule importing a name from its package's __init__, which imports it
            {
                "symml/data/__init__.py": "from symml.data.d import D\n",
                "symml/data/d.py": "from symml.data import helper\n",
            },
            ["symml.data", "symml.data.d", "symml.data"],
        ),
    ],
    ids=["function-level", "type-checking", "package-init"],
)
def test_cycle_checker_finds_cycles(sources: dict[str, str], expected: list[str]) -> None:
    assert find_cycle(import_graph(sources)) == expected


def test_cycle_checker_accepts_a_hierarchy() -> None:
    sources = {
        "symml/reps/__init__.py": "from symml.reps.top import T\n",
        "symml/reps/top.py": "from .low import L\nfrom symml.reps import mid\n",
        "symml/reps/mid.py": "def f():\n    from symml.reps.low import L\n",
        "symml/reps/low.py": "import torch\nfrom symml.groups import Cyclic\n",
    }
    assert find_cycle(import_graph(sources)) is None
