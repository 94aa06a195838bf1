"""The `kb` command: lint, index, search, evaluate, review, serve and report on the knowledge base."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
from pathlib import Path

import click

from assist_app.settings import DEFAULT_ASSIST_RESULTS, Settings


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj


class _Commands(click.Group):
    def invoke(self, ctx: click.Context):
        # Every command that searches needs a built index: say so in one line, not a traceback.
        from indexer.search import IndexNotReady

        try:
            return super().invoke(ctx)
        except IndexNotReady as e:
            raise click.ClickException(str(e)) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--kb",
    "kb_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Knowledge base folder (default: $KB_DIR or the repository's kb/).",
)
@click.option(
    "--index",
    "index_root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Index folder (default: $KB_INDEX_DIR or var/index/).",
)
@click.pass_context
def main(ctx: click.Context, kb_dir: Path | None, index_root: Path | None) -> None:
    """After-sales knowledge base: lint articles, build the index, search cases, serve the app."""
    try:
        settings = Settings.from_env()
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    ctx.obj = dataclasses.replace(
        settings,
        kb_dir=kb_dir or settings.kb_dir,
        index_root=index_root or settings.index_root,
    )


# The period of the insights store that insights and learn read: the last N days.
PERIOD_OPTION = click.option(
    "--days",
    default=30,
    show_default=True,
    type=click.IntRange(1, 3650),
    help="The period: the last N days.",
)


@main.command()
@click.option(
    "--strict", is_flag=True, help="Fail on warnings too (overdue reviews, expiring policies)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    help="text: path:line: [level] message (rule); json: a list for machines.",
)
@click.option(
    "--rules", is_flag=True, help="List the lint rules with their documentation and exit."
)
@click.pass_context
def lint(ctx: click.Context, strict: bool, fmt: str, rules: bool) -> None:
    """Check every article and KB file; report all problems with file, line and fix.

    Exit status: 0 clean, 1 errors (or warnings with --strict).
    """
    from indexer.lint import has_errors, lint_kb, problem_codes

    if rules:
        for codes, documentation in problem_codes():
            click.echo(f"{', '.join(codes)}: {documentation}")
        return
    kb, problems = lint_kb(_settings(ctx).kb_dir)
    if fmt == "json":
        click.echo(json.dumps([p.__dict__ for p in problems], ensure_ascii=False, indent=2))
    else:
        for problem in problems:
            click.echo(problem.format())
        errors = sum(1 for p in problems if p.level == "error")
        click.echo(
            f"{len(kb.articles)} 篇文章，{errors} 个错误，{len(problems) - errors} 个警告", err=True
        )
    sys.exit(1 if has_errors(problems, strict) else 0)


@main.command()
@click.pass_context
def index(ctx: click.Context) -> None:
    """Build the search index from the KB (refuses a KB with lint errors).

    The new index is built apart and switched to only when verified: a failed build leaves the
    serving index untouched. Running servers pick the new one up without a restart.
    """
    from indexer.build import print_progress

    summary = _build(_settings(ctx), progress=print_progress)
    click.echo(
        f"已构建 {summary.build_id}：{summary.articles} 篇文章，{summary.terms} 个词项，"
        f"{summary.size_bytes / 1024:.0f} KB，用时 {summary.seconds:.2f} 秒"
        f"（重新分词 {summary.retokenized} 篇）"
    )


def _build(settings: Settings, progress=None):
    """Build the index; a failed build prints its problems and exits 1 (nothing replaced)."""
    from indexer.build import BuildError, build_index

    try:
        return build_index(settings.kb_dir, settings.index_root, progress=progress)
    except BuildError as e:
        for problem in e.problems:
            click.echo(problem.format(), err=True)
        raise click.ClickException(str(e)) from None


def open_engine(settings: Settings):
    """A search engine over the index, building the index first when there is none, or when
    the one there was written by an older version in another format (layout.BUILD_FORMAT)."""
    from indexer.layout import current_build, in_current_format
    from indexer.search import SearchEngine

    build = current_build(settings.index_root)
    if build is None:
        click.echo("还没有索引，正在构建……", err=True)
        _build(settings)
    elif not in_current_format(build):
        click.echo("索引是旧版本程序构建的，正在重新构建……", err=True)
        _build(settings)
    return SearchEngine(settings.index_root)


def warn_if_stale(settings: Settings) -> None:
    """Say on stderr when KB files changed after the index was built: results are of the old KB."""
    from indexer.freshness import changed_since_build
    from indexer.layout import current_build

    build = current_build(settings.index_root)
    newer = changed_since_build(settings.kb_dir, build) if build else []
    if newer:
        shown = "、".join(str(p.relative_to(settings.kb_dir)) for p in newer[:3])
        more = f" 等 {len(newer)} 个文件" if len(newer) > 3 else ""
        click.echo(
            f"注意：索引比知识库文件旧（{shown}{more}在构建后改过），结果还是旧内容；"
            "运行 kb index 更新（kb serve --watch 会自动更新）",
            err=True,
        )


@main.command()
@click.argument("case")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the same document as POST /api/assist."
)
@click.option(
    "-k",
    "limit",
    default=DEFAULT_ASSIST_RESULTS,
    show_default=True,
    type=click.IntRange(1, Settings.max_limit),
    help="How many results (at most as many as the API gives).",
)
@click.pass_context
def search(ctx: click.Context, case: str, as_json: bool, limit: int) -> None:
    """Find the procedures for a case description (a buyer's message, a note, a question)."""
    from assist_app.assist import assist, format_answer

    if not case.strip():
        raise click.BadParameter("案例描述不能为空", param_hint="CASE")
    settings = _settings(ctx)
    engine = open_engine(settings)
    warn_if_stale(settings)
    answer = assist(engine, case, limit=limit)
    if as_json:
        click.echo(json.dumps(answer, ensure_ascii=False, indent=2))
        return
    click.echo(format_answer(answer))
    click.echo(f"\n用时 {answer['took_ms']:.1f} ms", err=True)


@main.command(name="eval")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print metrics and failures as JSON.")
@click.option(
    "--baseline/--no-baseline",
    default=True,
    help="Also score a plain BM25 baseline (bm25s, jieba tokens) on the same cases.",
)
@click.option(
    "--calibrate",
    is_flag=True,
    help="Compute the no-good-match line from every set in kb/eval (or FILE) instead.",
)
@click.option("--write", is_flag=True, help="With --calibrate: write it to kb/matching.yaml.")
@click.option("--by-article", is_flag=True, help="Also print top-1 and top-3 per expected article.")
@click.option(
    "--figures-only",
    is_flag=True,
    help="Print figures and counts but no case's text (a held-out set stays unread).",
)
@click.pass_context
def evaluate(
    ctx: click.Context,
    file: Path | None,
    as_json: bool,
    baseline: bool,
    calibrate: bool,
    write: bool,
    by_article: bool,
    figures_only: bool,
) -> None:
    """Run an evaluation set and compare its metrics with the thresholds beside it.

    FILE defaults to kb/eval/cases.yaml; thresholds come from thresholds.yaml in the same folder.
    Exit status 1 when a metric is under its threshold.
    """
    from indexer.evaluate import (
        EvalError,
        format_articles,
        format_report,
        run_eval,
        without_case_texts,
    )

    settings = _settings(ctx)
    engine = open_engine(settings)
    if calibrate:
        _calibrate(engine, settings, file, write, as_json)
        return
    file = file or settings.kb_dir / "eval" / "cases.yaml"
    try:
        report = run_eval(engine, file, baseline=baseline)
    except EvalError as e:
        raise click.ClickException(str(e)) from None
    if figures_only:
        report = without_case_texts(report)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(format_report(report, max_failures=0 if figures_only else 40))
        if by_article:
            click.echo("\n" + format_articles(report))
    sys.exit(0 if report["passed"] else 1)


def _calibrate(engine, settings, file: Path | None, write: bool, as_json: bool) -> None:
    from indexer.evaluate import EvalError, calibrate, eval_sets, write_calibration

    files = [file] if file else eval_sets(settings.kb_dir / "eval")
    try:
        found = calibrate(engine, files)
    except EvalError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
    else:
        click.echo(f"no_good_match_below: {found['no_good_match_below']}")
        for name, figures in found["sets"].items():
            recall = figures["no_match_recall"]
            click.echo(
                f"  {name}: 有合适文章却被标为未找到 {figures['false_no_match']:.3f}"
                + ("" if recall is None else f"，没有合适文章且被标出 {recall:.3f}")
            )
    if write:
        path = write_calibration(settings.kb_dir, found["no_good_match_below"])
        click.echo(f"已写入 {path}；运行 kb index 后生效")


@main.command()
@click.option(
    "--base", default=None, help="Git revision to compare with (default: merge base with main)."
)
@click.pass_context
def check(ctx: click.Context, base: str | None) -> None:
    """Pull-request check: lint, build, evaluate, and compare with the base revision.

    Prints a Markdown summary for the pull request; exit status 1 when lint fails or a metric is
    under its threshold.
    """
    from indexer.check import CheckError, format_check, run_check

    try:
        report = run_check(_settings(ctx).kb_dir, base)
    except CheckError as e:
        raise click.ClickException(str(e)) from None
    click.echo(format_check(report))
    sys.exit(0 if report["passed"] else 1)


@main.command()
@click.option(
    "--since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Start date, YYYY-MM-DD.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
@click.pass_context
def changes(ctx: click.Context, since: dt.datetime, as_json: bool) -> None:
    """List articles changed since a date and, in a few words, what changed (from git history)."""
    from indexer.changes import changes_since

    found = changes_since(_settings(ctx).kb_dir, since.date())
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(c) for c in found], ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo(f"{since.date()} 以来没有文章变化")
    for change in found:
        click.echo(
            f"{change.last_changed}  {change.article_id}  {change.title}\n"
            f"            {'；'.join(change.summary)}"
        )


def _served_kb(settings: Settings):
    """The KB of the index being served (titles as agents saw them), else the KB's files."""
    from indexer.layout import SNAPSHOT_FILE, current_build
    from indexer.loader import load_kb
    from indexer.snapshot import read_snapshot

    build = current_build(settings.index_root)
    if build is not None:
        return read_snapshot(build / SNAPSHOT_FILE)
    return load_kb(settings.kb_dir)[0]


@main.command()
@PERIOD_OPTION
@click.option(
    "--json", "as_json", is_flag=True, help="Print the report as JSON (as /insights shows it)."
)
@click.option(
    "--purge",
    is_flag=True,
    help="Delete records older than the retention period ($KB_INSIGHTS_RETENTION_DAYS, 90) and exit.",
)
@click.pass_context
def insights(ctx: click.Context, days: int, as_json: bool, purge: bool) -> None:
    """What agents looked for: searches with no good match, cases per article, unseen articles,
    most copied replies, helpful/wrong marks (store: $KB_INSIGHTS_URL or var/insights.sqlite).
    """
    from assist_app.insights import build_report, format_insights, purge_older_than
    from assist_app.insights_store import StoreUnavailable, open_store

    settings = _settings(ctx)
    try:
        store = open_store(settings.insights_store_url())
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    try:
        if purge:
            kept = settings.insights_retention_days
            deleted = purge_older_than(store, kept)
            click.echo(f"已删除 {deleted} 条超过 {kept} 天的检索记录（{store.describe()}）")
            return
        report = build_report(store, _served_kb(settings), days)
    except StoreUnavailable as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(format_insights(report))


@main.command()
@PERIOD_OPTION
@click.option(
    "--min-cases",
    default=2,
    show_default=True,
    type=click.IntRange(1, None),
    help="Distinct cases an article's phrasings need between them to be proposed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the proposals as JSON.")
@click.option(
    "--apply",
    "apply_ids",
    multiple=True,
    metavar="ID",
    help="Write this proposal's phrasings into its article's keywords (repeatable).",
)
@click.option("--all", "apply_all", is_flag=True, help="Write every proposal (conflicts left out).")
@click.pass_context
def learn(
    ctx: click.Context,
    days: int,
    min_cases: int,
    as_json: bool,
    apply_ids: tuple[str, ...],
    apply_all: bool,
) -> None:
    """Propose keywords from the agents' corrections: phrasings buyers used for an article the
    search ranked low (the agent chose it below the first, or resolved a no-good-match search
    with it). --apply ID / --all writes them into the articles' files; then run `kb check`.
    """
    from assist_app.insights_store import StoreUnavailable, open_store
    from assist_app.learn import ApplyError, apply_proposals, format_proposals, propose
    from indexer.loader import load_kb

    settings = _settings(ctx)
    try:
        store = open_store(settings.insights_store_url())
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    engine = open_engine(settings)
    warn_if_stale(settings)
    kb, _ = load_kb(settings.kb_dir)
    try:
        report = propose(store, kb, engine, days=days, min_cases=min_cases)
    except StoreUnavailable as e:
        raise click.ClickException(str(e)) from None
    if not (apply_ids or apply_all):
        click.echo(
            json.dumps(report, ensure_ascii=False, indent=2)
            if as_json
            else format_proposals(report)
        )
        return
    try:
        written = apply_proposals(settings.kb_dir, report, apply_ids, apply_all)
    except ApplyError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(
            json.dumps(
                [{"path": path, "added": added} for path, added in written],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for path, added in written:
        click.echo(f"{path}：keywords 新增 {len(added)} 条：{'、'.join(added)}")
    if written:
        click.echo("在分支上提交这些修改，kb check 会给出它们对各评估集的影响")
    else:
        click.echo("没有可写入的问法（冲突的问法不会写入）")


@main.command()
@click.option(
    "--days", default=0, show_default=True, help="Also list reviews due within this many days."
)
@click.pass_context
def review(ctx: click.Context, days: int) -> None:
    """List articles due or overdue for review, grouped by owner."""
    from indexer.loader import load_kb
    from indexer.reviews import due_for_review, format_reviews

    kb, _ = load_kb(_settings(ctx).kb_dir)
    today = dt.date.today()
    click.echo(format_reviews(due_for_review(kb, today + dt.timedelta(days=days)), today))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 32),
    help="gunicorn worker processes (one per core is a good start).",
)
@click.option(
    "--dev",
    is_flag=True,
    help="Flask's development server with the reloader and debugger (loopback only); implies "
    "--watch.",
)
@click.option(
    "--watch", is_flag=True, help="Rebuild the index when a file under the KB folder changes."
)
@click.option(
    "--allow-anonymous",
    is_flag=True,
    help="Serve a non-loopback address without sign-in (anyone who reaches the port sees "
    "buyers' messages in /insights). Without it, such a start needs KB_USERS_FILE or "
    "KB_TRUSTED_PROXIES.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    workers: int,
    dev: bool,
    watch: bool,
    allow_anonymous: bool,
) -> None:
    """Serve the agent console, article pages and JSON API (builds the index if missing)."""
    from assist_app import create_app
    from assist_app.auth import is_loopback
    from assist_app.users import UsersFileError, read_users

    settings = _settings(ctx)
    check_bind(host, settings.access_control, dev, allow_anonymous)
    if settings.users_file is not None:
        try:  # a missing or malformed users file is a one-line error, not a traceback
            read_users(settings.users_file)
        except UsersFileError as e:
            raise click.ClickException(str(e)) from None
    open_engine(settings)
    # With the reloader, the serving process is its child (WERKZEUG_RUN_MAIN): watch there only.
    if (watch or dev) and (not dev or os.environ.get("WERKZEUG_RUN_MAIN") == "true"):
        from assist_app.watch import KbWatcher

        KbWatcher(
            settings.kb_dir, settings.index_root, lambda line: click.echo(line, err=True)
        ).start()
        click.echo(f"正在监视 {settings.kb_dir}：文件一改就重建索引", err=True)
    if not settings.access_control and not is_loopback(host):
        click.echo(
            f"警告：{host}:{port} 未启用登录，任何能连到这个端口的人都能看到买家消息", err=True
        )
    if dev:
        create_app(settings).run(host=host, port=port, debug=True)
        return
    from assist_app.server import run_gunicorn

    run_gunicorn(settings, host, port, workers)


def check_bind(host: str, access_control: bool, dev: bool, allow_anonymous: bool) -> None:
    """Refuse to serve beyond this machine without sign-in, or Werkzeug's debugger at all."""
    from assist_app.auth import is_loopback

    if is_loopback(host):
        return
    if dev:
        raise click.ClickException(
            f"--dev 只能绑定本机地址（127.0.0.1），不能绑定 {host}："
            "Werkzeug 的调试器能在服务器上执行任意代码"
        )
    if not access_control and not allow_anonymous:
        raise click.ClickException(
            f"拒绝在 {host} 上无登录地提供服务：设置 KB_USERS_FILE（用户文件，kb users set 创建）"
            "或 KB_TRUSTED_PROXIES（反向代理登录），见 README 的“部署”一节；"
            "确实要开放给所有人，加 --allow-anonymous"
        )


@main.group()
@click.option(
    "--file",
    "users_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Users file (default: $KB_USERS_FILE).",
)
@click.pass_context
def users(ctx: click.Context, users_file: Path | None) -> None:
    """Add, change, list and remove the users who sign in on /login."""
    path = users_file or _settings(ctx).users_file
    if path is None:
        raise click.ClickException("没有用户文件：设置 KB_USERS_FILE 或加 --file PATH")
    ctx.meta["users_file"] = path


@users.command("set")
@click.argument("name")
@click.option("--role", type=click.Choice(["agent", "editor"]), help="agent or editor.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)
@click.option("--keep-password", is_flag=True, help="Change the role only.")
@click.pass_context
def users_set(
    ctx: click.Context, name: str, role: str | None, password_stdin: bool, keep_password: bool
) -> None:
    """Add a user or change one's role or password (asked without echo)."""
    from assist_app.users import UsersFileError, set_user

    path: Path = ctx.meta["users_file"]
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not keep_password:
        password = click.prompt("密码", hide_input=True, confirmation_prompt="再输入一次")
    try:
        user = set_user(path, name, role, password)
    except UsersFileError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"已保存用户 {user.name}（{user.role}）到 {path}")


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """Every user and role in the users file (never the hashes)."""
    from assist_app.users import UsersFileError, read_users

    try:
        found = read_users(ctx.meta["users_file"])
    except UsersFileError as e:
        raise click.ClickException(str(e)) from None
    for user in found.values():
        click.echo(f"{user.name}\t{user.role}")


@users.command("remove")
@click.argument("name")
@click.pass_context
def users_remove(ctx: click.Context, name: str) -> None:
    """Remove a user: their sessions end at their next request."""
    from assist_app.users import UsersFileError, remove_user

    try:
        remove_user(ctx.meta["users_file"], name)
    except UsersFileError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"已删除用户 {name}")


if __name__ == "__main__":
    main()
