"""indexer.build: a build is made apart, verified, then switched in; a failure changes nothing."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import shutil
import tempfile
import threading
import weakref
from pathlib import Path

import pytest
from kb_helpers import copy_mini_kb, edit, snapshot, write_article
from whoosh.writing import SegmentWriter

from indexer import analysis, build, layout
from indexer.build import BuildError, build_index
from indexer.layout import KEEP_BUILDS, current_build
from indexer.loader import load_kb
from indexer.search import IndexNotReady, SearchEngine
from indexer.snapshot import kb_from_json, kb_to_json, read_snapshot

CASES = {
    "拍错了 还没发货 想取消订单": "cancel-order",
    "收到就碎了 箱子压坏": "damaged-item",
    "不想要了能退吗 七天无理由": "seven-day-return",
}


@pytest.fixture
def kb(tmp_path) -> Path:
    return copy_mini_kb(tmp_path)


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "index"


def first_ids(index_root: Path) -> dict[str, str | None]:
    """The first hit of each case, from a fresh engine over the index root."""
    engine = SearchEngine(index_root)
    return {case: _first(engine, case) for case in CASES}


def _first(engine: SearchEngine, case: str) -> str | None:
    hits = engine.search(case).hits
    return hits[0].article.id if hits else None


def leftovers(index_root: Path) -> list[str]:
    return sorted(p.name for p in (index_root / "builds").iterdir() if p.name.startswith("."))


def last_build(index_root: Path) -> dict:
    return json.loads((index_root / "last-build.json").read_text(encoding="utf-8"))


def break_platform(kb: Path) -> None:
    edit(
        kb / "articles/before-shipment/cancel-order.md",
        "platforms: [淘宝, 拼多多]",
        "platforms: [淘宝, 拼夕夕]",
    )


def test_build_makes_current_point_at_a_verified_build(kb, root):
    summary = build_index(kb, root)

    link = root / "current"
    assert link.is_symlink()
    assert os.readlink(link) == f"builds/{summary.build_id}"  # relative: the root can move
    assert current_build(root) == summary.path == root / "builds" / summary.build_id
    assert (summary.path / "whoosh").is_dir()
    manifest = json.loads((summary.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["build_id"] == summary.build_id
    assert manifest["kb_version"] == summary.kb_version
    assert summary.build_id.endswith(summary.kb_version)
    assert manifest["articles"] == summary.articles == 3
    assert manifest["terms"] == summary.terms > 0
    assert summary.retokenized == 3
    assert last_build(root) == {"ok": True, **manifest}


def test_kb_json_is_the_kb_as_indexed(kb, root):
    summary = build_index(kb, root)
    loaded, _ = load_kb(kb)

    text = (summary.path / "kb.jsonl").read_text(encoding="utf-8")

    assert text == kb_to_json(loaded)
    assert kb_from_json(text) == loaded


@pytest.mark.parametrize("heads_file", [True, False], ids=["heads-file", "older-build"])
def test_a_served_build_reads_as_the_kb_it_indexed_even_once_deleted(kb_copy, root, heads_file):
    # Served articles keep their contents in the build's snapshot until read (DeferredArticle):
    # every field, link and greeting must read as the files say, after the folder is gone too;
    # from the build's heads file, or from the snapshot alone (a build from before heads files).
    build_index(kb_copy, root)
    files, _ = load_kb(kb_copy)
    build = current_build(root)
    if not heads_file:
        (build / layout.HEADS_FILE).unlink()
    served = read_snapshot(build / layout.SNAPSHOT_FILE)
    shutil.rmtree(root)

    assert served == files
    for article, expected in zip(served.articles, files.articles, strict=True):
        assert article.checklist == expected.checklist and article.body == expected.body
        assert article.links() == expected.links()
        assert article.framing_replies() == expected.framing_replies()
    assert any(a.links() for a in served.articles)
    assert any(a.framing_replies() for a in served.articles)
    # A changed copy is an article in memory, with the change.
    changed = dataclasses.replace(served.articles[0], body="改过的正文")
    assert changed.body == "改过的正文" and changed.checklist == files.articles[0].checklist


def test_each_head_says_where_its_article_is_in_the_snapshot(kb, root):
    build = build_index(kb, root).path
    snapshot = (build / layout.SNAPSHOT_FILE).read_bytes()
    heads = [
        json.loads(line)
        for line in (build / layout.HEADS_FILE).read_text(encoding="utf-8").splitlines()
    ]

    assert [h["id"] for h in heads] == [a.id for a in load_kb(kb)[0].articles]
    for head in heads:
        start, end = head["at"]
        line = snapshot[start:end]
        assert line.endswith(b"\n") and json.loads(line)["id"] == head["id"]


def test_build_is_searchable(kb, root):
    build_index(kb, root)

    assert first_ids(root) == CASES


def test_lint_errors_raise_and_leave_the_current_build_untouched(kb, root):
    build_index(kb, root)
    before = snapshot(root)
    break_platform(kb)

    with pytest.raises(BuildError) as raised:
        build_index(kb, root)

    assert "1 个错误" in str(raised.value)
    assert [(p.path, p.line, p.rule) for p in raised.value.problems] == [
        ("kb/articles/before-shipment/cancel-order.md", 6, "platform-unknown")
    ]
    assert snapshot(root) == before
    assert len(list((root / "builds").iterdir())) == 1
    assert first_ids(root) == CASES


def test_last_build_records_a_failure_with_its_problems(kb, root):
    build_index(kb, root)
    break_platform(kb)

    with pytest.raises(BuildError):
        build_index(kb, root)

    outcome = last_build(root)
    assert outcome["ok"] is False
    assert "未构建索引" in outcome["error"]
    assert len(outcome["problems"]) == 1
    assert outcome["problems"][0].startswith(
        "kb/articles/before-shipment/cancel-order.md:6: [error] 未知平台 `拼夕夕`"
    )


def test_first_build_of_a_broken_kb_records_the_failure(kb, root):
    break_platform(kb)

    with pytest.raises(BuildError):
        build_index(kb, root)

    assert current_build(root) is None
    assert last_build(root)["ok"] is False


def _fail_verify(directory, kb):
    raise BuildError("校验失败：测试注入")


def _fail_fsync(directory):
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize(
    ("module", "target", "replacement", "message"),
    [
        (build, "verify_build", _fail_verify, "校验失败：测试注入"),
        (layout, "fsync_tree", _fail_fsync, "写入索引失败"),
    ],
)
def test_a_failure_late_in_the_build_leaves_the_old_index_current(
    kb, root, monkeypatch, module, target, replacement, message
):
    build_index(kb, root)
    before = snapshot(root)
    edit(kb / "articles/product-issues/damaged-item.md", "收到就碎了", "收到就碎了 玻璃渣")
    monkeypatch.setattr(module, target, replacement)

    with pytest.raises(BuildError, match=message):
        build_index(kb, root)

    assert snapshot(root) == before
    assert leftovers(root) == []
    assert len(list((root / "builds").iterdir())) == 1
    assert message in last_build(root)["error"]
    assert first_ids(root) == CASES


def test_a_failure_while_the_whoosh_writer_is_adding_documents(kb, root, monkeypatch):
    build_index(kb, root)
    before = snapshot(root)
    add_document = SegmentWriter.add_document
    added = []

    def disk_full_on_second_article(self, **fields):
        added.append(fields["id"])
        if len(added) == 2:
            raise OSError(28, "No space left on device")
        return add_document(self, **fields)

    monkeypatch.setattr(SegmentWriter, "add_document", disk_full_on_second_article)
    with pytest.raises(BuildError, match="写入索引失败.*当前索引未改变"):
        build_index(kb, root)

    assert snapshot(root) == before
    assert leftovers(root) == []
    assert first_ids(root) == CASES


def test_an_interrupted_build_cleans_up_and_propagates(kb, root):
    build_index(kb, root)
    before = snapshot(root)

    def ctrl_c(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index(kb, root, progress=ctrl_c)

    assert snapshot(root) == before
    assert leftovers(root) == []
    build_index(kb, root)  # the lock was released


def test_a_partial_build_left_by_a_killed_build_is_removed_by_the_next(kb, root):
    build_index(kb, root)
    stale = root / "builds" / ".partial-20260101T000000000000-dead"
    (stale / "whoosh").mkdir(parents=True)

    build_index(kb, root)

    assert leftovers(root) == []


def test_old_builds_are_pruned_but_current_is_kept(kb, root):
    ids = [build_index(kb, root).build_id for _ in range(KEEP_BUILDS + 2)]

    kept = sorted(p.name for p in (root / "builds").iterdir())
    assert kept == sorted(ids[-KEEP_BUILDS:])
    assert current_build(root).name == ids[-1]


def test_rebuild_after_editing_one_article_retokenizes_only_that_article(kb, root):
    assert build_index(kb, root).retokenized == 3
    assert build_index(kb, root).retokenized == 0

    edit(
        kb / "articles/returns-refunds/seven-day-return.md",
        "  - 不想要了能退吗",
        "  - 不想要了能退吗\n  - 买大了想退",
    )
    summary = build_index(kb, root)

    assert summary.retokenized == 1
    assert summary.articles == 3


def test_changing_the_dictionary_retokenizes_everything(kb, root):
    build_index(kb, root)
    with open(kb / "dict.txt", "a", encoding="utf-8") as f:
        f.write("碎了 500 v\n")

    assert build_index(kb, root).retokenized == 3


def test_the_same_kb_built_twice_ranks_the_same(kb, tmp_path):
    first = build_index(kb, tmp_path / "one")
    second = build_index(kb, tmp_path / "two")
    engines = SearchEngine(tmp_path / "one"), SearchEngine(tmp_path / "two")

    assert first.kb_version == second.kb_version
    assert first.build_id != second.build_id
    assert first.terms == second.terms
    for case in [*CASES, "退款", "亲 收到了 不想要了 能退吗"]:
        rankings = [[(h.article.id, h.score) for h in e.search(case).hits] for e in engines]
        assert rankings[0] == rankings[1], case
        assert rankings[0], case


def test_a_concurrent_build_is_refused(kb, root):
    inside, release = threading.Event(), threading.Event()
    outcome = {}

    def hold(done: int, total: int) -> None:
        inside.set()
        release.wait(timeout=30)

    def first_build() -> None:
        try:
            outcome["summary"] = build_index(kb, root, progress=hold)
        except BaseException as e:  # report it to the test thread
            outcome["error"] = e

    thread = threading.Thread(target=first_build)
    thread.start()
    try:
        assert inside.wait(timeout=30), "the first build never started writing"
        with pytest.raises(BuildError, match="另一个索引构建正在进行"):
            build_index(kb, root)
    finally:
        release.set()
        thread.join(timeout=60)

    assert "error" not in outcome
    assert current_build(root) == outcome["summary"].path
    assert last_build(root)["ok"] is True  # the finished build has the last word


def test_engine_picks_up_a_new_build_without_restart(kb, root):
    build_index(kb, root)
    engine = SearchEngine(root)
    assert engine.search("暴雨天气").hits == ()

    edit(
        kb / "articles/before-shipment/cancel-order.md",
        "  - 拍错了不要了",
        "  - 拍错了不要了\n  - 暴雨天气发不了货想取消",
    )
    summary = build_index(kb, root)
    result = engine.search("暴雨天气")

    assert result.hits[0].article.id == "cancel-order"
    assert "暴雨天气发不了货想取消" in result.hits[0].article.keywords
    assert result.build["build_id"] == summary.build_id


@pytest.mark.parametrize("remove", ["build directory", "index root"])
def test_deleting_files_under_a_live_engine_leaves_it_answering(kb, root, remove):
    build_index(kb, root)
    engine = SearchEngine(root)
    before = {case: _first(engine, case) for case in CASES}

    shutil.rmtree(current_build(root) if remove == "build directory" else root)

    assert {case: _first(engine, case) for case in CASES} == before == CASES
    if remove == "index root":
        assert engine.load_error  # the service can report it (readiness)


def test_a_server_engine_keeps_its_build_out_of_gc_and_frees_the_builds_it_left(kb, root):
    build_index(kb, root)
    engine = SearchEngine(root)
    engine.freeze_builds = True  # as `kb serve` sets it
    try:
        first = weakref.ref(engine.current())
        assert gc.get_freeze_count() > 0
        for _ in range(2):
            build_index(kb, root)
            assert _first(engine, "收到就碎了 箱子压坏") == "damaged-item"
        # Frozen objects in a cycle are never collected: each load unfreezes and collects first.
        assert first() is None
    finally:
        gc.unfreeze()


def test_a_broken_new_build_does_not_replace_the_loaded_one(kb, root):
    build_index(kb, root)
    engine = SearchEngine(root)
    _first(engine, "退款")
    summary = build_index(kb, root)
    (summary.path / "kb.jsonl").write_text("{", encoding="utf-8")

    assert {case: _first(engine, case) for case in CASES} == CASES
    assert summary.build_id in engine.load_error


def test_a_build_of_an_older_format_is_not_loaded_and_says_to_rebuild(kb, root):
    summary = build_index(kb, root)
    assert layout.format_of(layout.read_manifest(summary.path)) == layout.BUILD_FORMAT
    manifest = layout.read_manifest(summary.path)
    layout.write_manifest(summary.path, {k: v for k, v in manifest.items() if k != "format"})

    engine = SearchEngine(root)
    with pytest.raises(IndexNotReady):
        engine.search("不想要了能退吗 七天无理由")
    assert "旧版本" in engine.load_error and "需要重新构建" in engine.load_error

    build_index(kb, root)
    assert {case: _first(engine, case) for case in CASES} == CASES


def test_jieba_cache_lives_under_the_index_root(kb, root, tmp_path, monkeypatch):
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    # Force a fresh jieba tokenizer, as in a new process (restored after the test).
    monkeypatch.setattr(analysis, "_segmenter", None)
    monkeypatch.setattr(analysis, "_segmenter_words", None)

    build_index(kb, root)

    assert (root / "jieba" / "jieba.cache").stat().st_size > 0
    assert list(system_tmp.iterdir()) == []


def test_a_missing_kb_folder_fails_cleanly(tmp_path, root):
    with pytest.raises(BuildError):
        build_index(tmp_path / "no-such-kb", root)

    assert current_build(root) is None


def test_an_article_added_to_the_kb_is_indexed(kb, root):
    build_index(kb, root)
    write_article(
        kb,
        "product-issues/missing-part.md",
        (kb / "articles/product-issues/damaged-item.md")
        .read_text(encoding="utf-8")
        .replace("id: damaged-item", "id: missing-part")
        .replace("title: 运输破损：收到商品压坏碎了", "title: 少件：配件漏发")
        .replace("tags: [破损, 压坏]", "tags: [少件, 漏发]"),
    )

    summary = build_index(kb, root)

    assert summary.articles == 4
    assert summary.retokenized == 1
    assert _first(SearchEngine(root), "配件漏发了") == "missing-part"
