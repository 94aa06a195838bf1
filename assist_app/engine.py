"""What a request handler reads from the app: its settings, its one search engine (opened per
process, reloaded when a new build is switched in) and an article of the loaded build."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, current_app, url_for

from assist_app import render
from assist_app.settings import Settings
from indexer.loaded import LoadedIndex
from indexer.search import SearchEngine


def init_engine(app: Flask, settings: Settings) -> None:
    # Opening is lazy (first request): each worker of a pre-fork server loads the current build
    # itself and reloads it when a new one is switched in.
    app.extensions["search_engine"] = SearchEngine(settings.index_root)


def get_engine() -> SearchEngine:
    return current_app.extensions["search_engine"]


def get_settings() -> Settings:
    return current_app.config["SETTINGS"]


def article_href(article_id: str) -> str:
    """The URL of an article's page."""
    return url_for("pages.article", article_id=article_id)


def article_detail(article_id: str) -> tuple[LoadedIndex, dict[str, Any]]:
    """The loaded index and an article's detail (render.detail), or a 404 naming the id."""
    engine = get_engine()
    loaded = engine.current()
    found = loaded.articles.get(article_id)
    if found is None:
        abort(404, f"没有 id 为“{article_id}”的文章")
    return loaded, render.detail(found, loaded.kb, engine.today(), article_href)
