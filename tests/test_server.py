"""`kb serve`: gunicorn with sync workers serving the app over the real index."""

from __future__ import annotations

import pytest
from live_helpers import kb_server
from web_helpers import fetch

from assist_app.settings import PROJECT_ROOT

# Starts gunicorn with workers: slow (`make test-fast` skips it).
pytestmark = pytest.mark.slow


def test_kb_serve_runs_gunicorn_workers(index_root, tmp_path):
    with kb_server(PROJECT_ROOT / "kb", index_root, tmp_path / "serve.log") as server:
        url = server.url
        answers = [
            fetch(
                f"{url}/api/assist", "POST", json_body={"case": "快递说放门口了 可是门口啥也没有"}
            )
            for _ in range(4)
        ]
        assert all(a.status == 200 for a in answers)
        assert {a.json()["results"][0]["id"] for a in answers} == {"lost-parcel"}
        assert fetch(f"{url}/").status == 200
        assert fetch(f"{url}/api/nope").status == 404
        output = server.log()
    assert output.count("Booting worker") == 2, output
    assert "Listening at: " + url in output
