"""What changed in the knowledge base since a date, in a few words per article, from git history."""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from indexer.loader import parse_article
from indexer.model import Article


@dataclass(frozen=True)
class ArticleChange:
    """One article's change over a period: what an agent should know about it."""

    article_id: str
    title: str
    path: str
    last_changed: str  # ISO date of the newest commit touching it
    summary: tuple[str, ...] = field(default_factory=tuple)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def _articles_at(repo: Path, wanted: list[tuple[str, str]]) -> list[Article | None]:
    """The articles at (revision, path), None where the file is not there: one `git cat-file`
    for all of them (a `git show` each took seconds over a 1,000-article history)."""
    if not wanted:
        return []
    specs = "".join(f"{rev}:{path}\n" for rev, path in wanted).encode("utf-8")
    out = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        input=specs,
        check=True,
        capture_output=True,
    ).stdout
    articles, position = [], 0
    for _, path in wanted:
        end = out.index(b"\n", position)
        header = out[position:end].split()
        position = end + 1
        if len(header) != 3 or header[1] != b"blob":  # "<spec> missing": not at that revision
            articles.append(None)
            continue
        size = int(header[2])
        text = out[position : position + size].decode("utf-8", "replace")
        position += size + 1
        articles.append(parse_article(text, path)[0])
    return articles


def describe_change(old: Article | None, new: Article | None) -> list[str]:
    """Say in a few words how an article changed: steps, replies, title, scope."""
    if old is None and new is not None:
        return ["新文章"]
    if new is None:
        return ["已删除"]
    notes = []
    if old.title != new.title:
        notes.append(f"标题改为「{new.title}」")
    old_steps, new_steps = {s.text for s in old.checklist}, {s.text for s in new.checklist}
    if added := len(new_steps - old_steps):
        notes.append(f"新增或改写 {added} 个步骤")
    if removed := len(old_steps - new_steps):
        notes.append(f"删除或改写前 {removed} 个步骤")
    old_replies = {r.id: r.text for r in old.replies}
    new_replies = {r.id: r.text for r in new.replies}
    for rid in new_replies.keys() - old_replies.keys():
        notes.append(f"新增回复 {rid}")
    for rid in old_replies.keys() - new_replies.keys():
        notes.append(f"删除回复 {rid}")
    changed = [
        r for r in new_replies.keys() & old_replies.keys() if new_replies[r] != old_replies[r]
    ]
    if changed:
        notes.append(f"修改回复 {', '.join(sorted(changed))}")
    if (old.applies_when, old.platforms, old.specializes) != (
        new.applies_when,
        new.platforms,
        new.specializes,
    ):
        notes.append("适用范围变化")
    if (old.effective_from, old.effective_until) != (new.effective_from, new.effective_until):
        notes.append(f"生效期改为 {new.effective_from or '…'} 至 {new.effective_until or '…'}")
    if old.body != new.body:
        notes.append("正文更新")
    if old.keywords != new.keywords or old.tags != new.tags:
        notes.append("关键词或标签更新")
    if old.examples != new.examples:
        notes.append("买家问法示例更新")
    return notes or ["格式调整"]


def changes_since(kb_dir: Path, since: dt.date) -> list[ArticleChange]:
    """Articles changed by commits since `since`, newest first."""
    kb_dir = kb_dir.resolve()
    repo = Path(_git(kb_dir, "rev-parse", "--show-toplevel").strip())
    articles_rel = str((kb_dir / "articles").relative_to(repo))
    log = _git(
        repo,
        "log",
        f"--since={since.isoformat()} 00:00:00",
        "--format=@%H %cs",
        "--name-only",
        "--",
        articles_rel,
    )
    newest: dict[str, str] = {}
    oldest_commit: dict[str, str] = {}
    commit = day = ""
    for line in log.splitlines():
        if line.startswith("@"):
            commit, day = line[1:].split()
        elif line.endswith(".md"):
            newest.setdefault(line, day)
            oldest_commit[line] = commit
    paths = list(newest)
    befores = _articles_at(repo, [(f"{oldest_commit[path]}^", path) for path in paths])
    nows = _articles_at(repo, [("HEAD", path) for path in paths])
    out = []
    for path, before, now in zip(paths, befores, nows, strict=True):
        day = newest[path]
        shown = now or before
        if shown is None:
            continue
        out.append(
            ArticleChange(shown.id, shown.title, path, day, tuple(describe_change(before, now)))
        )
    out.sort(key=lambda c: (c.last_changed, c.article_id), reverse=True)
    return out
