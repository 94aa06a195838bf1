"""Whether the index is older than the KB files: what `kb search` warns about and what
`kb serve --watch` rebuilds on.

Only the files the loader reads count (articles and the KB's own yaml/txt files; not eval/,
not hidden or editor backup files), by modification time and size: cheap enough to poll every
second on a 10,000-article KB.
"""

from __future__ import annotations

from pathlib import Path

from indexer.layout import MANIFEST_FILE

# Editors' swap and backup files (vim .swp, emacs ~ and #…#) are not the KB.
_SKIPPED_SUFFIXES = (".swp", ".swx", ".tmp", "~")


def kb_files(kb_dir: Path) -> list[Path]:
    """The files a build reads: articles/**/*.md and the KB's top-level .yaml/.txt files."""
    top = [p for p in kb_dir.glob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".txt")]
    articles = [
        p
        for p in (kb_dir / "articles").rglob("*.md")
        if not any(part.startswith((".", "#")) for part in p.relative_to(kb_dir).parts)
        and not p.name.endswith(_SKIPPED_SUFFIXES)
    ]
    return sorted(top + articles)


def fingerprint(kb_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """Each KB file with its modification time and size: equal fingerprints, same files."""
    found = []
    for path in kb_files(kb_dir):
        try:
            stat = path.stat()
        except FileNotFoundError:  # deleted while we looked: the next poll sees it gone
            continue
        found.append((str(path.relative_to(kb_dir)), stat.st_mtime_ns, stat.st_size))
    # A deleted file changes the fingerprint by its absence.
    return tuple(found)


def changed_since_build(kb_dir: Path, build_dir: Path) -> list[Path]:
    """KB files modified after the build was written, newest first (empty: the index is fresh)."""
    built = (build_dir / MANIFEST_FILE).stat().st_mtime_ns
    newer = []
    for path in kb_files(kb_dir):
        try:
            modified = path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
        if modified > built:
            newer.append((modified, path))
    return [path for _, path in sorted(newer, reverse=True)]
