"""indexer.whoosh_segments: Whoosh's private API is used only against the version it was checked on."""

from __future__ import annotations

import ast
import importlib.metadata
import re
from pathlib import Path

import whoosh

import assist_app
import indexer
from indexer.whoosh_segments import WHOOSH_CHECKED

PYPROJECT = Path(indexer.__file__).parent.parent / "pyproject.toml"


def test_the_installed_whoosh_is_the_version_our_private_calls_were_checked_against():
    installed = tuple(
        int(part) for part in importlib.metadata.version("whoosh-reloaded").split(".")
    )

    assert whoosh.__version__ == installed
    assert installed == WHOOSH_CHECKED, (
        f"whoosh-reloaded {installed} is installed, indexer/whoosh_segments.py was checked "
        f"against {WHOOSH_CHECKED}: re-check its private calls (tests/test_impacts.py compares "
        "bytes and scores with Whoosh's own), then update WHOOSH_CHECKED and the pin"
    )


def test_pyproject_pins_the_checked_version():
    pin = re.search(r'"whoosh-reloaded==([\d.]+)"', PYPROJECT.read_text(encoding="utf-8"))

    assert pin, "pyproject.toml must pin whoosh-reloaded exactly"
    assert tuple(int(part) for part in pin.group(1).split(".")) == WHOOSH_CHECKED


def private_whoosh_uses(path: Path) -> list[str]:
    """Attributes starting with one underscore read on anything but self, in one module."""
    uses = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and re.match(r"^_[a-zA-Z]", node.attr)
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            uses.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return uses


def test_no_other_module_reaches_into_whoosh_internals():
    modules = [
        path
        for package in (indexer, assist_app)
        for path in Path(package.__file__).parent.glob("*.py")
        if path.name != "whoosh_segments.py"
        and re.search(r"^\s*(from|import) whoosh", path.read_text(encoding="utf-8"), re.M)
    ]

    assert modules, "some module uses Whoosh"
    assert [use for path in modules for use in private_whoosh_uses(path)] == []
