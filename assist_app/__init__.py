"""The agent-assist web app: JSON API, agent console, article browsing and editors' reports."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from assist_app.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Create the app over the index at settings.index_root (built by `kb index`)."""
    from assist_app import api, auth, editor_pages, errors, pages, same_origin
    from assist_app.engine import init_engine
    from assist_app.recorder import init_recorder
    from assist_app.request_ids import issuer

    settings = settings or Settings.from_env()
    app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json = StrictJSONProvider(app)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    # /api/articles/%2F0 is an unknown id (404), not a redirect to another URL.
    app.url_map.merge_slashes = False
    init_engine(app, settings)
    # Access first (who is it), then the write check (from where); both before any view.
    auth.init_app(app, settings)
    same_origin.init_app(app)
    init_recorder(
        app,
        settings.insights_store_url(),
        settings.insights_retention_days,
        new_request_id=issuer(app.secret_key),
    )
    errors.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(editor_pages.bp)
    return app


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, never with NaN or Infinity: they are not JSON, and the console's parser
    fails on them as if the server could not be reached."""

    def dumps(self, obj, **kwargs) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)
