"""The house rules the code layout keeps: blueprints apart, the engine alone, modules that say what
they hold, and a README layout section that matches the tree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "shop"
#: Packages whose modules must each open with a one-line summary.
DOCUMENTED = ("services", "experiments", "training", "importers")


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function, relative ones resolved."""
    tree = ast.parse(path.read_text("utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(ROOT).parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            # ``from shop.catalog import queries`` imports the module shop.catalog.queries.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _blueprints() -> list[str]:
    """The packages under shop/ whose __init__ makes a Blueprint."""
    return sorted(
        init.parent.name
        for init in SHOP.glob("*/__init__.py")
        if re.search(r"\bBlueprint\(", init.read_text("utf-8"))
    )


def test_the_blueprints_are_found():
    assert {"admin", "api", "auth", "cart", "catalog", "feedback", "search"} <= set(_blueprints())


@pytest.mark.parametrize("blueprint", _blueprints())
def test_no_blueprint_imports_another_blueprints_module(blueprint):
    others = [b for b in _blueprints() if b != blueprint]
    crossings = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((SHOP / blueprint).rglob("*.py"))
        for name in sorted(_imports(path))
        if any(name == f"shop.{o}" or name.startswith(f"shop.{o}.") for o in others)
    ]
    assert crossings == []


def test_the_engine_imports_nothing_from_the_shop_nor_the_web():
    offending = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((SHOP / "recommend").rglob("*.py"))
        for name in sorted(_imports(path))
        if (name == "shop" or name.startswith("shop."))
        and not name.startswith("shop.recommend")
        or name.split(".")[0] in ("flask", "flask_login", "flask_sqlalchemy", "sqlalchemy")
    ]
    assert offending == []


def test_services_import_no_blueprint():
    blueprints = _blueprints()
    offending = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in DOCUMENTED
        for path in sorted((SHOP / package).rglob("*.py"))
        for name in sorted(_imports(path))
        if any(name == f"shop.{b}" or name.startswith(f"shop.{b}.") for b in blueprints)
    ]
    assert offending == []


@pytest.mark.parametrize(
    "path",
    [p.relative_to(ROOT) for package in DOCUMENTED for p in sorted((SHOP / package).glob("*.py"))],
    ids=str,
)
def test_every_service_module_opens_with_a_one_line_summary(path):
    docstring = ast.get_docstring(ast.parse((ROOT / path).read_text("utf-8")), clean=False)
    assert docstring, f"{path} has no docstring"
    lines = docstring.split("\n")
    assert lines[0].strip(), f"{path}: the summary is not on the first line"
    assert len(lines) == 1 or not lines[1].strip(), f"{path}: the summary runs past one line"


def _readme_layout() -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("\n## Layout\n", 1)[1]
    return section.split("```", 2)[1]


def test_the_readme_layout_names_every_package_and_top_level_module_of_shop():
    layout = _readme_layout()
    named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*(?:\.py|/)", layout))
    packages = {f"{p.parent.name}/" for p in SHOP.glob("*/__init__.py")}
    modules = {p.name for p in SHOP.glob("*.py") if p.name != "__init__.py"}
    assert sorted(packages - named) == []
    assert sorted(modules - named) == []


def test_every_path_the_readme_layout_names_exists():
    layout = _readme_layout()
    missing = []
    parents: list[tuple[int, Path]] = []
    for line in layout.splitlines():
        match = re.match(r"( *)(\S+)", line)
        if not match or not re.fullmatch(r"[\w.-]+(/|\.py)", match.group(2)):
            continue
        indent, name = len(match.group(1)), match.group(2)
        parents = [(i, p) for i, p in parents if i < indent]
        base = parents[-1][1] if parents else ROOT
        path = base / name.rstrip("/")
        if not path.exists():
            missing.append(str(path.relative_to(ROOT)))
        if name.endswith("/"):
            parents.append((indent, path))
    assert missing == []
