"""Read facts and slots from a case description, as declared in kb/facts.yaml and kb/slots.yaml."""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from indexer.model import FactDef, SlotDef

_CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
    "半": 0.5,
}
_NUM = r"(\d+|[一二两三四五六七八九十]{1,3})"
_RECEIVED = r"(?:签收|收到|收货|到货|到手|拿到|取件|到的|收的|刚到|到了)"
NEAR_WINDOW = 8  # characters before a number in which a `near` word must appear


@dataclass(frozen=True)
class Evidence:
    """Why a fact or slot was read: the value and the words that signalled it."""

    value: str | float
    phrase: str


def chinese_number(text: str) -> float | None:
    """Parse 3, 十五, 二十一, 两 into a number."""
    if text.isdigit():
        return int(text)
    if not text or any(c not in _CN_DIGITS for c in text):
        return None
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    if len(text) == 1:
        return _CN_DIGITS[text]
    return None


READ = None  # the pattern's first group is the number of days
# More days than this is not a count of days since receipt (a 310-digit run is not even a float).
MAX_DAYS = 36500

_DAY_PATTERNS: tuple[tuple[re.Pattern, float | None], ...] = (
    (re.compile(_RECEIVED + r"(?:后)?的?第" + _NUM + r"天"), READ),
    (re.compile(_RECEIVED + r"(?:了|都|已经|有|快|才)*" + _NUM + r"(?:多)?天"), READ),
    (re.compile(r"(?<!\d)" + _NUM + r"(?:多)?天前" + r"(?:就)?(?:已经)?" + _RECEIVED), READ),
    (re.compile(r"(?<!\d)(?:已经|都)?" + _NUM + r"(?:多)?天了?(?:才|都)?(?:签收|收到)"), READ),
    (re.compile(_RECEIVED + r"(?:了|都|已经|有|快)*(?:一|1)(?:个)?(?:周|星期|礼拜)"), 7),
    (re.compile(_RECEIVED + r"(?:了|都|已经|有|快)*(?:两|2)(?:个)?(?:周|星期|礼拜)"), 14),
    (re.compile(_RECEIVED + r"(?:了|都|已经|有|快)*半(?:个)?月"), 15),
    (re.compile(_RECEIVED + r"(?:了|都|已经|有|快)*(?:一|1)个(?:多)?月"), 30),
    (re.compile(r"(?:一|1)(?:个)?(?:周|星期|礼拜)前" + _RECEIVED), 7),
    (re.compile(r"大前天(?:就)?" + r"(?:已经)?" + _RECEIVED), 3),
    (re.compile(r"前天(?:就)?" + r"(?:已经)?" + _RECEIVED), 2),
    (re.compile(r"昨天(?:晚上|下午|上午|中午|早上)?(?:就)?(?:刚)?" + _RECEIVED), 1),
    (re.compile(r"(?:今天|刚刚|刚才|今早|今天早上|今天下午)(?:刚)?" + _RECEIVED), 0),
    (re.compile(r"上(?:个)?(?:周|星期|礼拜)" + r"[一二三四五六日天]?" + _RECEIVED), 7),
)


def days_since_receipt(text: str, spec: FactDef | None = None) -> Evidence | None:
    """Read how many days ago the buyer signed for the parcel (签收第九天, 前天到的, 收到一周了).

    A reading says nothing right after a word of the fact's `not_after` (必须今天收到 is a
    wish) or inside one of its `ignore` phrases (刚才收到一条短信 is a text message)."""
    for pattern, how in _DAY_PATTERNS:
        match = next((m for m in pattern.finditer(text) if _says_receipt(text, m, spec)), None)
        if not match:
            continue
        if how is READ:
            value = chinese_number(match.group(1))
            if value is None or value > MAX_DAYS:
                continue
        else:
            value = how
        return Evidence(float(value), match.group(0))
    return None


def _says_receipt(text: str, match: re.Match, spec: FactDef | None) -> bool:
    if spec is None:
        return True
    if _after_any(text, match.start(), spec.not_after):
        return False
    # An ignored phrase that overlaps the reading hides it: the first occurrence that could
    # reach into it is the one to look at.
    for phrase in spec.ignore:
        needle = phrase.lower()
        start = text.find(needle, max(0, match.start() - len(needle) + 1))
        if start != -1 and start < match.end():
            return False
    return True


def _occurrences(text: str, needle: str) -> Iterator[int]:
    """Where `needle` starts in `text`, overlapping occurrences included."""
    at = text.find(needle)
    while at != -1:
        yield at
        at = text.find(needle, at + 1)


NUMBER_EXTRACTORS = {"days_since_receipt": days_since_receipt}


# A day or time of day between a `not_after` word and the phrase: 必须今天收到 is a wish as 必须收到
# is, 说好昨天就到的 a promise as 说好到的 is.
_TIME_BETWEEN = re.compile(
    r"(?:大前天|前天|昨天|今天|明天|大后天|后天|今晚|明晚|今早|明早|当天)"
    r"(?:早上|上午|中午|下午|晚上)?就?$"
)


def _after_any(text: str, start: int, words: tuple[str, ...]) -> bool:
    """Whether the text just before `start` ends with one of the words, or with one of them
    and a day between (_TIME_BETWEEN)."""
    if any(text.endswith(word, 0, start) for word in words):
        return True
    between = _TIME_BETWEEN.search(text, max(0, start - 8), start)
    return bool(between) and any(text.endswith(word, 0, between.start()) for word in words)


def extract_enum(text: str, spec: FactDef) -> Evidence | None:
    """Find the value whose phrases match; overlapping matches go to the longest phrase.

    "没收到" and "收到" overlap: the longer, more specific phrase wins, so negations hold.
    Among values that still match, the one with the most matched characters wins; ties go to
    the one mentioned last (buyers end with what they want now).
    """
    spans = []
    # A fact has hundreds of phrases and a case holds a few: `in` rules most out at C speed
    # before their occurrences are walked (a third of a short case's answer time otherwise).
    for value, phrases in spec.values.items():
        for phrase in phrases:
            needle = phrase.lower()
            if needle not in text:
                continue
            for start in _occurrences(text, needle):
                if not _after_any(text, start, spec.not_after):
                    spans.append((start, start + len(needle), value, phrase))
    for value, regexes in spec.patterns.items():
        for regex in regexes:
            for match in re.finditer(regex, text):
                spans.append((match.start(), match.end(), value, match.group(0)))
    for phrase in spec.ignore:
        needle = phrase.lower()
        if needle not in text:
            continue
        for start in _occurrences(text, needle):
            spans.append((start, start + len(needle), None, phrase))
    if not spans:
        return None
    spans.sort(key=lambda s: (-(s[1] - s[0]), s[0]))
    kept: list[tuple[int, int, str | None, str]] = []
    # Kept spans never overlap, so sorted by start they are sorted by end too: a new span can
    # only overlap its neighbours there (checking every kept span was quadratic: "碎" * 2000).
    starts: list[int] = []
    ends: list[int] = []
    for span in spans:
        at = bisect.bisect_right(starts, span[0])
        if (at and ends[at - 1] > span[0]) or (at < len(starts) and starts[at] < span[1]):
            continue
        starts.insert(at, span[0])
        ends.insert(at, span[1])
        kept.append(span)
    totals: dict[str, list] = {}
    for start, end, value, phrase in kept:
        if value is None:  # an ignored phrase: it only hides the shorter ones inside it
            continue
        total = totals.setdefault(value, [0, -1, phrase])
        total[0] += end - start
        if start > total[1]:
            total[1], total[2] = start, phrase
    if not totals:
        return None
    value, (_, _, phrase) = max(totals.items(), key=lambda kv: (kv[1][0], kv[1][1]))
    return Evidence(value, phrase)


def extract_facts(
    text: str, facts: dict[str, FactDef], slots: dict[str, Evidence] | None = None
) -> dict[str, Evidence]:
    """Read every declared fact from normalised case text."""
    found: dict[str, Evidence] = {}
    for name, spec in facts.items():
        if spec.type == "enum":
            evidence = extract_enum(text, spec)
        elif spec.extractor in NUMBER_EXTRACTORS:
            evidence = NUMBER_EXTRACTORS[spec.extractor](text, spec)
        elif slots and spec.extractor in slots:
            # A number fact read by a slot's patterns (amount).
            slot = slots[spec.extractor]
            try:
                evidence = Evidence(float(slot.value), slot.phrase)
            except ValueError:
                evidence = None
        else:
            evidence = None
        if evidence is not None and _finite(evidence.value):
            found[name] = evidence
    return found


def _finite(value: str | float) -> bool:
    # A 320-digit amount parses to inf, which JSON cannot carry: it is no amount to act on.
    return not isinstance(value, float) or math.isfinite(value)


def extract_slots(text: str, slots: dict[str, SlotDef]) -> dict[str, Evidence]:
    """Read slot values by their patterns; a span taken by one slot is not read again by another.

    Slots are tried in the order slots.yaml declares them, patterns in order, so a specific shape
    (SF1234…, a Pinduoduo order id) is claimed before a generic run of digits.
    """
    taken: list[tuple[int, int]] = []
    found: dict[str, Evidence] = {}
    # Specific patterns (no `near` condition) of every slot first, then context-dependent ones:
    # "单号 3900123456789012345" is an order id by shape even though 单号 is near.
    for generic in (False, True):
        for name, spec in slots.items():
            if name in found:
                continue
            for pattern in spec.patterns:
                if bool(pattern.near) != generic:
                    continue
                match = _first_free_match(text, pattern.regex, pattern.near, taken)
                if match:
                    found[name] = Evidence(match[0], match[2])
                    taken.append(match[1])
                    break
    for name, spec in slots.items():
        if name not in found and spec.values:
            lowered = text.lower()
            for value in spec.values:
                if value.lower() in lowered:
                    found[name] = Evidence(value, value)
                    break
    return found


def _first_free_match(text, regex, near, taken):
    """Return (value, span, matched text) of the first match not inside a taken span.

    A pattern with two groups reads a number split by a unit: (9)块(9) -> 9.9.
    """
    for match in re.finditer(regex, text, flags=re.IGNORECASE):
        group = 1 if match.groups() else 0
        span = (match.start(group), match.end(match.lastindex or 0))
        if any(span[0] < t[1] and span[1] > t[0] for t in taken):
            continue
        if near:
            before = text[max(0, span[0] - NEAR_WINDOW - max(map(len, near))) : span[0]]
            if not any(word.lower() in before for word in near):
                continue
        parts = [g for g in match.groups() if g] or [match.group(0)]
        return ".".join(parts), span, match.group(0)
    return None
