"""The index folder's layout: where each file lives, which build is current, switching to a
new build, pruning old ones and the outcome of the last attempt.

Layout of an index root:
    current -> builds/<build id>    symlink, replaced atomically when a build is verified
    builds/<build id>/whoosh/       the Whoosh index
    builds/<build id>/arrays/       score arrays derived from it, what a server queries
                                    (indexer/impacts.py)
    builds/<build id>/kb.jsonl      the knowledge base exactly as indexed (served from here)
    builds/<build id>/heads.jsonl   what a server keeps of each article in memory, and where
                                    its line of kb.jsonl is (the rest is read when needed)
    builds/<build id>/manifest.json build id, KB version, time, counts, size
    builds/.partial-<build id>/     a build being written (or what a killed build left)
    jieba/jieba.cache               jieba's dictionary cache, owned by us (fxsjy/jieba#26)
    tokens.sqlite                   token cache by content hash: an edit re-cuts one article
    last-build.json                 outcome of the last attempt, good or failed (for /readyz)
    .build.lock                     held (flock) by the one build running
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

CURRENT_LINK = "current"
BUILDS_DIR = "builds"
PARTIAL_PREFIX = ".partial-"
WHOOSH_DIR = "whoosh"
ARRAYS_DIR = "arrays"
SNAPSHOT_FILE = "kb.jsonl"
HEADS_FILE = "heads.jsonl"
MANIFEST_FILE = "manifest.json"
JIEBA_DIR = "jieba"
TOKEN_CACHE_FILE = "tokens.sqlite"
LAST_BUILD_FILE = "last-build.json"
LOCK_FILE = ".build.lock"
# Servers may still read an older build for a moment after a switch.
KEEP_BUILDS = 3
# How a build's files are laid out. Raised when code reads them differently (2: the phrasing
# model's counts kept by document); a build of another format is not loaded, and `kb serve` /
# `kb search` rebuild it rather than fail (in_current_format, open_engine).
BUILD_FORMAT = 2


def current_target(index_root: Path) -> str | None:
    """Where `current` points (as written in the link), or None when there is no link."""
    try:
        return os.readlink(index_root / CURRENT_LINK)
    except OSError:
        return None


def current_build(index_root: Path) -> Path | None:
    """The directory of the serving build, or None when there is none (or it was deleted)."""
    target = current_target(index_root)
    if target is None:
        return None
    build = index_root / target
    return build if build.is_dir() else None


def read_manifest(build_dir: Path) -> dict[str, Any]:
    return json.loads((build_dir / MANIFEST_FILE).read_text(encoding="utf-8"))


def format_of(manifest: dict[str, Any]) -> int:
    """The format a build's manifest says it was written in; before formats were recorded, 1."""
    return int(manifest.get("format", 1))


def in_current_format(build_dir: Path) -> bool:
    """Whether a build is in the format this code reads (BUILD_FORMAT); one whose manifest
    cannot be read is not (rebuilding it is the way back)."""
    try:
        return format_of(read_manifest(build_dir)) == BUILD_FORMAT
    except (OSError, ValueError):
        return False


def write_manifest(build_dir: Path, manifest: dict[str, Any]) -> None:
    (build_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def new_build_dirs(index_root: Path, build_id: str) -> tuple[Path, Path]:
    """The partial directory a build is written into and the name it gets when complete."""
    builds = index_root / BUILDS_DIR
    builds.mkdir(exist_ok=True)
    return builds / f"{PARTIAL_PREFIX}{build_id}", builds / build_id


def record_outcome(index_root: Path, outcome: dict[str, Any]) -> None:
    """Replace last-build.json atomically: a reader sees the old outcome or the new one."""
    tmp = index_root / f".last-build.{os.getpid()}.json"
    tmp.write_text(json.dumps(outcome, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, index_root / LAST_BUILD_FILE)


def last_build_outcome(index_root: Path) -> dict[str, Any] | None:
    """The outcome of the last `kb index` attempt, None when unknown or unreadable."""
    try:
        outcome = json.loads((index_root / LAST_BUILD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return outcome if isinstance(outcome, dict) else None


def last_build_failure(index_root: Path) -> dict[str, Any] | None:
    """The last attempt when it failed (last-build.json says ok: false): when, why, problems."""
    outcome = last_build_outcome(index_root)
    if outcome is None or outcome.get("ok") is not False:
        return None
    return {key: outcome.get(key) for key in ("at", "error", "problems")}


def fsync_tree(directory: Path) -> None:
    """Flush a new build to disk before it becomes current: a crash must not leave it half-written."""
    for path in [*directory.rglob("*"), directory]:
        _fsync(path)


def switch_current(index_root: Path, build: Path) -> None:
    """Point `current` at `build` in one step (rename over the old link), durably."""
    tmp = index_root / f".current.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(os.path.relpath(build, index_root), tmp)
    os.replace(tmp, index_root / CURRENT_LINK)
    _fsync(index_root)


def prune_builds(index_root: Path, keep: Path) -> None:
    """Keep the newest few builds (servers may still read an older one) and drop half-built ones."""
    builds = index_root / BUILDS_DIR
    done = sorted((p for p in builds.iterdir() if not p.name.startswith(".")), reverse=True)
    for old in done[KEEP_BUILDS:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
    # Only one build runs at a time (the lock is held), so a partial directory still here is
    # what a killed build left.
    for partial in builds.glob(f"{PARTIAL_PREFIX}*"):
        shutil.rmtree(partial, ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
