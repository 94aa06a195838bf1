"""The app's one search engine: opened per process, reloaded when a new build is switched in."""

from __future__ import annotations

from flask import Flask, current_app

from assist_app.settings import Settings
from indexer.search import SearchEngine


def init_engine(app: Flask, settings: Settings) -> None:
    # Opening is lazy (first request): each worker of a pre-fork server loads the current build
    # itself and reloads it when a new one is switched in.
    app.extensions["search_engine"] = SearchEngine(settings.index_root)


def get_engine() -> SearchEngine:
    return current_app.extensions["search_engine"]
