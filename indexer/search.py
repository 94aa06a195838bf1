"""From a case description to ranked procedures, each with the reasons it ranks where it does.

The jobs live apart: `loaded` (one build loaded for serving), `query` (the case analysed),
`ranking` (scores, facts, reasons), `snippets` (what the agent sees), `weights` (every number
that decides the order). This module serves the current build and switches atomically.
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from indexer import analysis, layout
from indexer.loaded import LoadedIndex
from indexer.model import KnowledgeBase
from indexer.query import Query, analyse_case
from indexer.ranking import Hit, match_evidence, rank, reads_out_of_scope


class IndexNotReady(Exception):
    """No built index to search: run `kb index` first."""


@dataclass(frozen=True)
class SearchResult:
    """A ranked answer, with the KB it was ranked on (a build switch mid-request cannot mix two)."""

    query: Query
    hits: tuple[Hit, ...]
    took_ms: float
    kb: KnowledgeBase
    build: dict = field(default_factory=dict)
    # The first hit's evidence (ranking.match_evidence) and whether it falls below the KB's
    # calibrated line: then the hits are only candidates (可能相关), not the procedure.
    evidence: float = 0.0
    no_good_match: bool = True
    # Whether the case reads like the out-of-scope topics more than like its first procedure
    # (ranking.reads_out_of_scope), which discounted the evidence.
    reads_out_of_scope: bool = False

    @property
    def match_strength(self) -> float | None:
        """The first hit's evidence as a share of the KB's line: under 1.0 is no good match.
        None when the KB has no calibrated line."""
        line = self.kb.no_good_match_below
        return round(self.evidence / line, 3) if line else None


class SearchEngine:
    """Searches the current build of an index root, switching to a new build when one appears."""

    def __init__(self, index_root: Path, today: dt.date | None = None):
        self.index_root = Path(index_root)
        self._today = today
        self._lock = threading.Lock()
        self._loaded: LoadedIndex | None = None
        self._target: str | None = None
        self.load_error: str | None = None
        # A long-running server sets this: each loaded build is then kept out of the cyclic
        # garbage collector's passes (see _keep_out_of_gc).
        self.freeze_builds = False

    def today(self) -> dt.date:
        return self._today or dt.date.today()

    def current(self) -> LoadedIndex:
        """The loaded build, reloaded when `current` points elsewhere (an atomic switch)."""
        target = layout.current_target(self.index_root)
        if target != self._target or self._loaded is None:
            with self._lock:
                if target != self._target or self._loaded is None:
                    self._reload(target)
        if self._loaded is None:
            why = f"{self.load_error}；" if self.load_error else ""
            raise IndexNotReady(f"没有可用的索引：{self.index_root}（{why}先运行 kb index）")
        # jieba's tokenizer is per process: another KB built or loaded here since (tests, tools)
        # may have swapped in one without this KB's dictionary words. Cheap when it is ours.
        analysis.init_segmenter(self._loaded.kb.dict_words, self.index_root / layout.JIEBA_DIR)
        return self._loaded

    def _reload(self, target: str | None) -> None:
        build = layout.current_build(self.index_root) if target else None
        if build is None:
            # Keep serving what we have: a deleted index directory must not take the service down.
            self.load_error = "索引目录中没有当前构建" if self._loaded else None
            self._target = target if self._loaded is None else self._target
            return
        try:
            loaded = LoadedIndex(build, self.index_root)
        except Exception as e:  # a broken build must never replace a good one
            self.load_error = f"加载构建 {build.name} 失败：{e}"
            self._target = target
            return
        self._loaded, self._target, self.load_error = loaded, target, None
        if self.freeze_builds:
            _keep_out_of_gc()

    def analyse(self, case: str, overrides=None) -> Query:
        loaded = self.current()
        return analyse_case(case, loaded.kb, loaded.synonyms, overrides)

    def search(
        self, case: str, limit: int = 5, overrides: dict[str, str | float] | None = None
    ) -> SearchResult:
        """Rank the KB's active articles for a case; return the best `limit` with reasons."""
        started = time.perf_counter()
        loaded = self.current()
        query = analyse_case(case, loaded.kb, loaded.synonyms, overrides)
        hits = rank(loaded, query, limit, self.today())
        outside = bool(hits) and reads_out_of_scope(loaded, query, hits[0])
        evidence = match_evidence(hits[0] if hits else None, query.facts, outside)
        no_good_match = not hits or evidence < loaded.kb.no_good_match_below
        took = (time.perf_counter() - started) * 1000
        return SearchResult(
            query, tuple(hits), took, loaded.kb, loaded.manifest, evidence, no_good_match, outside
        )


def _keep_out_of_gc() -> None:
    """Free what earlier builds left, then move every object alive now (the loaded build, some
    100,000 at 10,000 articles) out of the cyclic collector's reach until the next load.

    A loaded build lives until the next one and holds no garbage, but every full collection
    walked it: 50 ms each at 10,000 articles (180 ms before articles read their contents on
    demand), which put POST /api/assist's p99 at ~70 ms. Frozen, a full collection walks only
    what requests left behind. Frozen before gunicorn forks, the build's pages also stay shared
    with the workers (gc.freeze's documented use). A build still in use by a request during a
    load stays frozen until the next load, which frees it.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
