"""The import graph follows the one-way flow of README's "How it fits together".

kb files → loader → lint / build → layout → search → assist → api, pages, cli: a module
imports only from its own layer or layers before it, and a few edges that the layers would
allow are back-edges all the same (the serving side never imports the building side).
Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import assist_app
import indexer

PACKAGES = ("indexer", "assist_app")
# Serving a query: one build loaded, the case analysed, ranked, shown.
SEARCHING = {
    "indexer.loaded",
    "indexer.query",
    "indexer.snippets",
    "indexer.ranking",
    "indexer.search",
}

# In flow order. A module may import from its own layer and the layers before it.
LAYERS: list[tuple[str, set[str]]] = [
    (
        "foundations",
        {
            "indexer",
            "indexer.model",
            "indexer.markup",
            "indexer.conditions",
            "indexer.parallel",
            "indexer.weights",
            "indexer.turns",
            "indexer.layout",
            "indexer.regex_safety",
        },
    ),
    (
        "kb files",
        {
            "indexer.loader",
            "indexer.analysis",
            "indexer.snapshot",
            "indexer.extract",
            "indexer.keyword_patch",
        },
    ),
    ("checks", {"indexer.lint", "indexer.reviews", "indexer.changes"}),
    (
        "index",
        {"indexer.whoosh_segments", "indexer.impacts", "indexer.phrasing_model", "indexer.build"},
    ),
    (
        "search",
        {
            "indexer.loaded",
            "indexer.query",
            "indexer.snippets",
            "indexer.ranking",
            "indexer.search",
        },
    ),
    ("tools", {"indexer.evaluate", "indexer.check", "indexer.freshness"}),
    (
        "assist",
        {
            "assist_app.settings",
            "assist_app.assist",
            "assist_app.render",
            "assist_app.masking",
            "assist_app.insights_store",
            "assist_app.insights_rollup",
            "assist_app.insights",
            "assist_app.learn",
            "assist_app.users",
            "assist_app.request_ids",
            "assist_app.disclosure",
        },
    ),
    (
        "web and cli",
        {
            "assist_app",
            "assist_app.recorder",
            "assist_app.engine",
            "assist_app.validation",
            "assist_app.errors",
            "assist_app.auth",
            "assist_app.same_origin",
            "assist_app.api",
            "assist_app.pages",
            "assist_app.editor_pages",
            "assist_app.server",
            "assist_app.watch",
            "assist_app.cli",
        },
    ),
]

BLUEPRINTS = {"assist_app.api", "assist_app.pages", "assist_app.editor_pages"}
# Edges the layers allow but the flow does not.
FORBIDDEN: dict[str, set[str]] = {
    # Searching reads a build through layout; it never loads Whoosh's writer, lint or the loader.
    **{
        module: {"indexer.build", "indexer.lint", "indexer.loader", "indexer.whoosh_segments"}
        for module in SEARCHING
    },
    # Articles are rendered from their markup, not from lint's view of them.
    "assist_app.render": {"indexer.lint", "indexer.build", "indexer.loader"},
    "assist_app.assist": {"indexer.lint", "indexer.build", "indexer.loader"},
    # Blueprints share what they need through engine.py and validation.py, not each other.
    **{
        bp: BLUEPRINTS - {bp} | {"indexer.build", "indexer.lint", "indexer.loader"}
        for bp in BLUEPRINTS
    },
}


def module_name(path: Path) -> str:
    package = path.parent.name
    return package if path.stem == "__init__" else f"{package}.{path.stem}"


def imports_of(source: str, package_modules: set[str]) -> set[str]:
    """Our modules a module's source imports (at the top or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                # `from indexer import layout` imports a module; `from indexer.x import y` a name.
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in package_modules else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in PACKAGES}
    return found


def back_edges(graph: dict[str, set[str]]) -> list[str]:
    """Every import that goes against the flow, as 'importer -> imported (why)'."""
    rank = {module: n for n, (_, modules) in enumerate(LAYERS) for module in modules}
    wrong = []
    for importer, imported in sorted(graph.items()):
        for target in sorted(imported):
            if rank[target] > rank[importer]:
                later = LAYERS[rank[target]][0]
                wrong.append(f"{importer} -> {target} (imports from a later layer: {later})")
            elif target in FORBIDDEN.get(importer, set()):
                wrong.append(f"{importer} -> {target} (a back-edge of the flow)")
    return wrong


def import_graph() -> dict[str, set[str]]:
    paths = [
        path
        for package in (indexer, assist_app)
        for path in sorted(Path(package.__file__).parent.glob("*.py"))
    ]
    names = {module_name(path) for path in paths}
    return {
        module_name(path): imports_of(path.read_text(encoding="utf-8"), names) - {module_name(path)}
        for path in paths
    }


def test_every_module_has_a_layer():
    placed = set().union(*(modules for _, modules in LAYERS))

    assert set(import_graph()) == placed


def test_no_module_imports_against_the_flow():
    assert back_edges(import_graph()) == []


@pytest.mark.parametrize(
    ("importer", "source"),
    [
        ("indexer.lint", "from assist_app.settings import Settings"),
        ("indexer.search", "from indexer.build import TEXT_FIELDS"),
        ("indexer.search", "def load():\n    from indexer import build"),
        ("indexer.loaded", "from indexer.build import current_build"),
        ("assist_app.render", "from indexer.lint import LINK"),
        ("assist_app.api", "from assist_app.pages import article_detail"),
    ],
)
def test_a_back_edge_is_caught(importer, source):
    graph = import_graph()
    graph[importer] = imports_of(source, set(graph))

    assert len(back_edges(graph)) == 1
