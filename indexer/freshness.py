"""Whether the index is older than the KB files: what `kb search` warns about and what
`kb serve --watch` rebuilds on.

Only the files the loader reads count (articles and the KB's own yaml/txt files; not eval/,
not hidden or editor backup files), by modification time and size: cheap enough to poll every
second on a 10,000-article KB.
"""

from __future__ import annotations

import os
from pathlib import Path

from indexer.layout import MANIFEST_FILE

# The KB's own files beside articles/ (facts.yaml, dict.txt …).
_KB_FILE_SUFFIXES = (".yaml", ".yml", ".txt")


def _kb_file_stats(kb_dir: Path) -> list[tuple[str, os.stat_result]]:
    """The files a build reads, by path relative to the KB, each with its stat, in path order:
    articles/**/*.md (symlinked folders not followed, as Path.rglob) and the KB's top-level
    .yaml/.txt files. A file deleted while we look is left out: the next poll sees it gone.

    With os.scandir, not Path.rglob and Path.stat: a third of the time at 10,000 articles, which
    `kb search` spends on every start and `kb serve --watch` every second."""
    found = []
    folders = [("", kb_dir)]
    while folders:
        relative, folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            name = f"{relative}/{entry.name}" if relative else entry.name
            try:
                if not relative:  # the KB folder itself: its files and articles/
                    if entry.name == "articles" and entry.is_dir(follow_symlinks=False):
                        folders.append((name, entry.path))
                    elif entry.is_file() and entry.name.endswith(_KB_FILE_SUFFIXES):
                        found.append((name, entry.stat()))
                elif entry.name.startswith((".", "#")):
                    continue  # hidden, and emacs's lock files (.#x.md) and backups (#x.md#)
                elif entry.is_dir(follow_symlinks=False):
                    folders.append((name, entry.path))
                elif entry.name.endswith(".md"):
                    found.append((name, entry.stat()))
            except FileNotFoundError:
                continue
    return sorted(found, key=lambda item: item[0])


def fingerprint(kb_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """Each KB file with its modification time and size: equal fingerprints, same files."""
    # A deleted file changes the fingerprint by its absence.
    return tuple((name, stat.st_mtime_ns, stat.st_size) for name, stat in _kb_file_stats(kb_dir))


def changed_since_build(kb_dir: Path, build_dir: Path) -> list[Path]:
    """KB files modified after the build was written, newest first (empty: the index is fresh)."""
    built = (build_dir / MANIFEST_FILE).stat().st_mtime_ns
    newer = [
        (stat.st_mtime_ns, kb_dir / name)
        for name, stat in _kb_file_stats(kb_dir)
        if stat.st_mtime_ns > built
    ]
    return [path for _, path in sorted(newer, reverse=True)]
