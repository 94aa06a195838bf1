"""Text analysis shared by indexing and querying: normalisation, jieba segmentation, pinyin.

Both sides must cut text the same way, so this is the only module that touches jieba.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import re
import tempfile
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import jieba

# Word characters worth indexing: CJK ideographs, Latin letters and digits.
_WORDLIKE = re.compile(r"[\u4e00-\u9fff0-9a-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

# Part of the token cache's key: change it whenever cutting gives other tokens for the same
# text and dictionary; never reuse a number (2: pinyin keys word by word; 4: pinyin keys no
# longer cached across dictionaries; 3 was a trial without HMM that caches may still hold).
TOKENIZER_VERSION = 4

_lock = threading.Lock()
_segmenter: jieba.Tokenizer | None = None
_segmenter_words: tuple[str, ...] | None = None


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def encodable(text: str) -> str:
    """The text with each lone surrogate (a command-line argument that was not UTF-8) replaced
    as a decoder would: it cannot be encoded, and OpenCC and every UTF-8 output encode."""
    return _SURROGATE.sub("\ufffd", text)


def fold(text: str) -> str:
    """Fold full-width forms and convert traditional to simplified characters; keep case."""
    text = encodable(text)
    text = unicodedata.normalize("NFKC", text)
    if _CJK.search(text):
        text = _t2s().convert(text)
    return text


def normalize(text: str) -> str:
    """Fold the text (see fold) and lower-case it: the form matching works on."""
    return fold(text).lower()


def default_cache_dir() -> Path:
    """Where jieba's dictionary cache lives unless the index directory provides a place."""
    return Path(tempfile.gettempdir()) / f"kb-assist-jieba-{os.getuid()}"


def init_segmenter(dict_words: tuple[str, ...], cache_dir: Path | None = None) -> jieba.Tokenizer:
    """Return a jieba tokenizer with the KB's user words, its cache file under our control.

    jieba's default cache sits in the shared temp directory, fails when that is not writable and
    is rebuilt on every start when another user owns it (fxsjy/jieba#26). We point it at a
    directory we own; when that cannot be written either, jieba still works, just slower to start.
    """
    global _segmenter, _segmenter_words
    with _lock:
        if _segmenter is not None and _segmenter_words == dict_words:
            return _segmenter
        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        cache_dir = cache_dir or default_cache_dir()
        # Always name the directory: with tmp_dir unset jieba calls tempfile.gettempdir(), which
        # raises FileNotFoundError when no temp directory is writable. If ours is not writable
        # either, jieba logs the failed cache dump and goes on with the dictionary in memory.
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            writable = os.access(cache_dir, os.W_OK)
        except OSError:
            writable = False
        if not writable:
            jieba.setLogLevel(logging.CRITICAL)
        tokenizer.tmp_dir = str(cache_dir)
        tokenizer.cache_file = "jieba.cache"
        tokenizer.initialize()
        for line in dict_words:
            parts = line.split()
            word = parts[0]
            freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            tag = parts[2] if len(parts) > 2 else None
            tokenizer.add_word(normalize(word), freq, tag)
        _segmenter, _segmenter_words = tokenizer, dict_words
        # Pinyin keys follow the cut, so a phrase's cached keys belong to the old dictionary.
        pinyin_keys.cache_clear()
        return tokenizer


def segmenter() -> jieba.Tokenizer:
    if _segmenter is None:
        raise RuntimeError("call init_segmenter() with the KB's dictionary first")
    return _segmenter


def cut(text: str, stopwords: frozenset[str] = frozenset()) -> list[str]:
    """Cut normalised text into search-mode tokens, dropping stop words and non-words (emoji)."""
    tokens = []
    for token in segmenter().cut_for_search(text):
        token = token.strip()
        if token and token not in stopwords and _WORDLIKE.search(token):
            tokens.append(token)
    return tokens


_LONG_RUN = re.compile(r"(.)\1{8,}", re.DOTALL)


def squeeze_runs(text: str) -> str:
    """Cut every run of one repeated character to 8: "碎" * 2,000 says no more than 8 of them, and
    jieba's HMM spends ~25 ms on such a run."""
    return _LONG_RUN.sub(lambda m: m.group(1) * 8, text)


def bigrams(text: str) -> list[str]:
    """Character bigrams of each CJK run: robust to segmentation differences and typos."""
    grams = []
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return grams


@lru_cache(maxsize=65536)
def pinyin_keys(phrase: str) -> tuple[str, ...]:
    """Full pinyin and initials of a phrase (退款 -> tuikuan, tk), for agents who type fast.

    Word by word along jieba's cut, each word's pinyin cached: at 10,000 articles every title,
    tag and keyword is a new phrase, and pypinyin on whole phrases took a fifth of a build.
    jieba's words also settle polyphones better than pypinyin's own phrase matching across
    word boundaries (加重新 is 加 + 重新, chongxin, not 加重 + 新).
    """
    chars = "".join(_CJK.findall(phrase))
    if not chars:
        return ()
    parts = [_word_pinyin(word) for word in segmenter().cut(chars, HMM=False)]
    return ("".join(full for full, _ in parts), "".join(initials for _, initials in parts))


@lru_cache(maxsize=65536)
def _word_pinyin(word: str) -> tuple[str, str]:
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(word)), "".join(lazy_pinyin(word, style=Style.FIRST_LETTER))


# Part-of-speech tags jieba's dictionary gives people's names (nr), foreign (nrfg) and
# transliterated (nrt) ones.
_NAME_TAGS = frozenset({"nr", "nrfg", "nrt"})


# Words of jieba's dictionary seen this often (and this short) are common words, not names.
_COMMON_MIN_COUNT = 50
_COMMON_MAX_CHARS = 4

# What masking reads from jieba's dictionary, in one pass, on first use (_load_name_vocabularies).
_common_words: frozenset[str] | None = None
_tagger = None
_vocabularies_lock = threading.Lock()


def common_words() -> frozenset[str]:
    """Words of jieba's dictionary seen at least 50 times that are not people's names.

    What lets personal-data masking tell 马上, 单号 or 颜色 (words) from 马兰 or 单丽 (names):
    the dictionary's counts come from a large corpus, its tags mark names.
    """
    if _common_words is None:
        _load_name_vocabularies()
    return _common_words


def _name_tagger():
    """jieba's part-of-speech tagger, over the KB's segmenter when one is loaded, knowing only
    the dictionary's name tags."""
    if _tagger is None:
        _load_name_vocabularies()
    return _tagger


def _load_name_vocabularies() -> None:
    """Read jieba's dictionary once for the common words and the name tagger's table.

    Not jieba.posseg's module-level tagger: that one loads a second dictionary and caches in
    the shared temp directory (fxsjy/jieba#26, see init_segmenter). And only the name tags are
    kept: the full tag table held every word of the dictionary and cost a serving process
    ~100 MB more, for a question (is this a name?) that needs only the names.
    """
    global _common_words, _tagger
    with _vocabularies_lock:
        if _tagger is not None:
            return
        # Importing jieba.posseg builds its module-level tagger (jieba.posseg.dt) over jieba's
        # default tokenizer, reading every dictionary word's tag: 0.3 s and ~40 MB for a tagger
        # we never use. Only that tokenizer (not ours, not jieba.get_dict_file) is handed an
        # empty dictionary while it does.
        jieba.dt.get_dict_file = lambda: io.BytesIO(b"")
        try:
            posseg = importlib.import_module("jieba.posseg")
        finally:
            del jieba.dt.get_dict_file
        posseg.dt.word_tag_tab = {}  # in case it was imported before, in full

        common, names = set(), {}
        with jieba.get_dict_file() as lines:
            for raw in lines:
                word, count, *tag = raw.decode("utf-8").split()
                if tag and tag[-1] in _NAME_TAGS:
                    names[word] = tag[-1]
                elif len(word) <= _COMMON_MAX_CHARS and int(count) >= _COMMON_MIN_COUNT:
                    common.add(word)

        class NameTagger(posseg.POSTokenizer):
            def load_word_tag(self, f):
                f.close()  # the same dictionary: its names are read above
                self.word_tag_tab = names

        jieba.setLogLevel(logging.WARNING)
        tokenizer = _segmenter
        if tokenizer is None:
            tokenizer = jieba.Tokenizer()
            # Our cache directory in the temp directory; without one (no writable temp
            # directory) a path nobody can write: jieba then logs the failed cache dump and
            # works from memory, where with no tmp_dir it would raise.
            cache_dir = Path(os.sep, "nonexistent", "kb-assist-jieba")
            with contextlib.suppress(OSError):
                cache_dir = default_cache_dir()
                cache_dir.mkdir(parents=True, exist_ok=True)
            tokenizer.tmp_dir = str(cache_dir)
            tokenizer.cache_file = "jieba.cache"
        _common_words = frozenset(common)
        _tagger = NameTagger(tokenizer)


def tags_a_name(text: str) -> bool:
    """Whether jieba's part-of-speech tagger reads a person's name in `text` (张伟, 陈建国)."""
    return any(pair.flag in _NAME_TAGS for pair in _name_tagger().cut(text, HMM=True))
