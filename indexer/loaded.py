"""One build of the index, loaded for serving: its score arrays and the KB it indexed."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from indexer import analysis, layout
from indexer.extract import Evidence
from indexer.impacts import ImpactIndex
from indexer.markup import show_value
from indexer.model import KnowledgeBase
from indexer.phrasing_model import PhrasingModel
from indexer.snapshot import read_snapshot
from indexer.snippets import normalized_text, snippet_candidates


class LoadedIndex:
    """One build, loaded: its score arrays (derived from the Whoosh index) and its KB.

    The arrays are memory-mapped read-only: a server's workers share one copy in the page
    cache, and a build directory deleted under a running server stays readable until this
    index is dropped (an unlinked file lives on while it is mapped).
    """

    def __init__(self, build_dir: Path, index_root: Path):
        self.build_dir = build_dir
        self.manifest = layout.read_manifest(build_dir)
        written = layout.format_of(self.manifest)
        if written != layout.BUILD_FORMAT:
            raise ValueError(
                f"构建是旧版本程序写的（格式 {written}，当前 {layout.BUILD_FORMAT}），需要重新构建"
            )
        self.kb: KnowledgeBase = read_snapshot(build_dir / layout.SNAPSHOT_FILE)
        self.impacts = ImpactIndex(build_dir / layout.ARRAYS_DIR)
        self.model = PhrasingModel(build_dir / layout.ARRAYS_DIR)
        self.articles = {a.id: a for a in self.kb.articles}
        if set(self.impacts.docs) != set(self.articles):
            raise ValueError("索引与知识库快照的文章不一致")
        self.doc_number = {article_id: n for n, article_id in enumerate(self.impacts.docs)}
        # The out-of-scope topics' phrases as the phrasing model counts them: what a case that
        # no procedure covers reads like (ranking.reads_out_of_scope).
        self.out_of_scope = self.model.outside(self.kb.out_of_scope_phrases())
        # applies_when conditions by (fact, value), to find articles a case's facts agree with.
        self.by_condition: dict[tuple[str, str], list[str]] = {}
        for a in self.kb.articles:
            for fact, wanted in a.applies_when.items():
                for value in wanted:
                    self.by_condition.setdefault((fact, value), []).append(a.id)
        analysis.init_segmenter(self.kb.dict_words, index_root / layout.JIEBA_DIR)
        # Each way of saying a word, and the tokens of the word the articles use.
        self.synonyms = []
        for canonical, variants in self.kb.synonyms.items():
            canonical_tokens = tuple(analysis.cut(analysis.normalize(canonical), self.kb.stopwords))
            for variant in (canonical, *variants):
                self.synonyms.append((variant.lower(), canonical_tokens))
        # For the articles shown most recently: their normalised text (for matched words) and
        # their snippet candidates.
        self.normalized_text = lru_cache(maxsize=1024)(
            lambda article_id: normalized_text(self.articles[article_id])
        )
        self.snippet_candidates = lru_cache(maxsize=1024)(
            lambda article_id: snippet_candidates(self.articles[article_id], self.articles)
        )

    def fact_candidates(self, facts: dict[str, Evidence], room: int) -> list[str]:
        """Up to `room` articles whose applies_when names a value the case's facts have.

        Comparisons (days_since_receipt: "> 7") are left to ranking: they qualify no article alone.
        """
        if room <= 0:
            return []
        found: dict[str, int] = {}
        for fact, evidence in facts.items():
            for article_id in self.by_condition.get((fact, show_value(evidence.value)), ()):
                found[article_id] = found.get(article_id, 0) + 1
        return sorted(found, key=lambda i: (-found[i], i))[:room]
