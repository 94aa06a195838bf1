"""`kb serve --watch` (and `--dev`): rebuild the index when a file under kb/ changes, so an
editor sees an edit in the console within seconds. Running servers pick the new build up on
their next request; a build that fails (lint errors) changes nothing and says why."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from indexer.build import BuildError, build_index
from indexer.freshness import fingerprint

POLL_SECONDS = 1.0


class KbWatcher(threading.Thread):
    """Polls the KB's files; after a change that has settled (two equal polls), rebuilds."""

    def __init__(
        self,
        kb_dir: Path,
        index_root: Path,
        say: Callable[[str], None],
        poll_seconds: float = POLL_SECONDS,
    ):
        super().__init__(name="kb-watch", daemon=True)
        self.kb_dir, self.index_root, self.say = kb_dir, index_root, say
        self.poll_seconds = poll_seconds
        self.stopped = threading.Event()
        # Taken now, not when the thread starts: an edit in between must count as a change.
        self.built = fingerprint(kb_dir)

    def stop(self) -> None:
        self.stopped.set()

    def run(self) -> None:
        built = self.built
        while not self.stopped.wait(self.poll_seconds):
            seen = fingerprint(self.kb_dir)
            if seen == built:
                continue
            # An editor's save can be several writes: wait until one poll sees no more change.
            while not self.stopped.wait(self.poll_seconds):
                again = fingerprint(self.kb_dir)
                if again == seen:
                    break
                seen = again
            self.rebuild()
            built = self.built = seen

    def rebuild(self) -> None:
        try:
            build = build_index(self.kb_dir, self.index_root)
        except BuildError as e:
            for problem in e.problems:
                self.say(problem.format())
            self.say(f"知识库有改动，但索引没有重建：{e}（仍在使用上一次的索引）")
        except Exception as e:  # noqa: BLE001 - a watcher that dies silently is worse
            self.say(f"知识库有改动，重建索引失败：{type(e).__name__}: {e}（仍在使用上一次的索引）")
        else:
            self.say(
                f"知识库有改动，索引已重建：{build.articles} 篇文章，版本 {build.kb_version}，"
                f"用时 {build.seconds:.1f} 秒"
            )
