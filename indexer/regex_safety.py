"""Whether a regular expression searches a text in linear time under Python's backtracking `re`.

`re.search` and `re.finditer` try a pattern at every position of the text. Two shapes make that
quadratic (measured: `(\\d+)块(\\d)` over a 2,000-digit run took 25 ms, `(\\d+)\\s*元` 190 ms):

1. Starts inside a run. An unbounded repeat X (`\\d+`, `\\s*`, `[^x]*`) scans a run of X
   characters and backtracks through it. When a match can also *begin* on an X character, each
   position of the run begins a new scan of the rest of the run.
2. Two unbounded repeats that can share a run (`\\d+0?\\d*`, `(\\d+)+`): every way to split the
   run between them is tried.

The rule (a sufficient condition; see `linear_time_problem`): a pattern is linear-safe when no
unbounded repeat holds another repeat; no two unbounded repeats with a character in common can
meet on one run (only items that accept that character stand between them); and for every
unbounded repeat X, either no character X accepts can begin a match, or the pattern begins with
a negative lookbehind refusing every character of X (`(?<![\\d])\\d+…`), so that a match begins
only at the first character of a run. Then each character is scanned by a bounded number of
attempts. Character classes are compared over a probe alphabet: ASCII, common white space, and
every character the pattern names.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse  # `sre_parse` itself is deprecated (3.11) and warns on import
from collections.abc import Iterable

_PROBE = "".join(chr(c) for c in range(32, 127)) + "\t\n\r\x0b\x0c\u3000\xa0中碎一¥￥：，。"
_CATEGORIES = {
    sre.CATEGORY_DIGIT: re.compile(r"\d"),
    sre.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    sre.CATEGORY_SPACE: re.compile(r"\s"),
    sre.CATEGORY_NOT_SPACE: re.compile(r"\S"),
    sre.CATEGORY_WORD: re.compile(r"\w"),
    sre.CATEGORY_NOT_WORD: re.compile(r"\W"),
}
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_LOOKAROUND = (sre.ASSERT, sre.ASSERT_NOT)


def linear_time_problem(pattern: str, flags: int = 0) -> str | None:
    """Why `pattern` may take more than linear time to search, or None when it is linear-safe.

    The message is for an editor: it names the repeat and the fix.
    """
    try:
        parsed = sre_parse.parse(pattern, flags)
    except re.error:
        return None  # not a pattern at all: reported as such elsewhere
    ignore_case = bool(parsed.state.flags & re.IGNORECASE)
    alphabet = _alphabet(parsed)

    def chars(items) -> frozenset[str]:
        return frozenset(c for c in alphabet if _accepts(items, c, ignore_case))

    for _, av in _unbounded_repeats(parsed, in_lookaround=False):
        if any(op in _REPEATS and a[1] > 1 for op, a in _walk(av[2])):
            return "重复里又套着重复（如 `(\\d+)+`）：同一串字符有指数多种分法，请改写成单层重复"
    for earlier, later in _meeting_repeats(list(parsed), chars):
        return (
            f"两个无上限的重复（{_describe(earlier)} 与 {_describe(later)}）能取同一串字符，"
            "一长串这样的字符会让匹配逐一尝试各种分法：请让它们之间隔着必需的、不同的字符"
        )
    guard = _leading_lookbehind(parsed, chars)
    begins = _first_chars(list(parsed), chars)
    for repeat in _unbounded_repeats(parsed, in_lookaround=True):
        run = chars(repeat[1][2])
        if run & begins and not run <= guard:
            shown = "".join(sorted(run & begins))[:12]
            return (
                f"无上限的重复 {_describe(repeat)} 能从一串字符（如“{shown}”）的任何位置开始匹配，"
                "长串会被反复扫描（平方时间）：请在模式开头加否定后顾，"
                "例如 `(?<!\\d)`，使匹配只能从一串字符的开头开始"
            )
    return None


def _alphabet(parsed) -> str:
    named = {chr(av) for op, av in _walk(parsed) if op in (sre.LITERAL, sre.NOT_LITERAL)}
    for op, av in _walk(parsed):
        if op == sre.IN:
            for kind, value in av:
                if kind in (sre.LITERAL, sre.NOT_LITERAL):
                    named.add(chr(value))
                elif kind == sre.RANGE:
                    named.update({chr(value[0]), chr(value[1]), chr((value[0] + value[1]) // 2)})
    return _PROBE + "".join(sorted(named - set(_PROBE)))


def _walk(items) -> Iterable[tuple]:
    """Every (op, av) of a parsed pattern, nested ones included."""
    for op, av in items:
        yield op, av
        if op == sre.SUBPATTERN:
            yield from _walk(av[3])
        elif op in _REPEATS:
            yield from _walk(av[2])
        elif op in _LOOKAROUND:
            yield from _walk(av[1])
        elif op == sre.BRANCH:
            for branch in av[1]:
                yield from _walk(branch)
        elif op == sre.ATOMIC_GROUP:
            yield from _walk(av)


def _unbounded_repeats(items, in_lookaround: bool) -> Iterable:
    for op, av in _walk_outside_lookarounds(items, in_lookaround):
        if op in _REPEATS and av[1] == sre.MAXREPEAT:
            yield op, av


def _walk_outside_lookarounds(items, include: bool) -> Iterable[tuple]:
    for op, av in items:
        if op in _LOOKAROUND and not include:
            continue
        yield op, av
        if op == sre.SUBPATTERN:
            yield from _walk_outside_lookarounds(av[3], include)
        elif op in _REPEATS:
            yield from _walk_outside_lookarounds(av[2], include)
        elif op in _LOOKAROUND:
            yield from _walk_outside_lookarounds(av[1], include)
        elif op == sre.BRANCH:
            for branch in av[1]:
                yield from _walk_outside_lookarounds(branch, include)
        elif op == sre.ATOMIC_GROUP:
            yield from _walk_outside_lookarounds(av, include)


def _accepts(items, c: str, ignore_case: bool) -> bool:
    """Whether any single-character item inside `items` accepts c (an over-approximation)."""
    forms = {c, c.lower(), c.upper()} if ignore_case else {c}
    for op, av in _walk(items):
        if op == sre.ANY:
            return True
        if op == sre.LITERAL and chr(av) in forms:
            return True
        if op == sre.NOT_LITERAL and chr(av) not in forms:
            return True
        if op == sre.IN and any(_in_set(av, f) for f in forms):
            return True
    return False


def _in_set(members, c: str) -> bool:
    negate = False
    found = False
    for kind, value in members:
        if kind == sre.NEGATE:
            negate = True
        elif kind == sre.LITERAL:
            found |= chr(value) == c
        elif kind == sre.RANGE:
            found |= value[0] <= ord(c) <= value[1]
        elif kind == sre.CATEGORY:
            pattern = _CATEGORIES.get(value)
            found |= pattern is None or bool(pattern.match(c))
    return found != negate


def _nullable(op, av) -> bool:
    """Whether an item can match the empty string (lookarounds and anchors consume nothing)."""
    if op in _LOOKAROUND or op == sre.AT:
        return True
    if op in _REPEATS:
        return av[0] == 0 or all(_nullable(*item) for item in av[2])
    if op == sre.SUBPATTERN:
        return all(_nullable(*item) for item in av[3])
    if op == sre.BRANCH:
        return any(all(_nullable(*item) for item in branch) for branch in av[1])
    return False


def _first_chars(items: list, chars) -> frozenset[str]:
    """Characters a match of `items` can begin with (over-approximated)."""
    found: frozenset[str] = frozenset()
    for op, av in items:
        if op in _LOOKAROUND or op == sre.AT:
            continue
        if op == sre.SUBPATTERN:
            found |= _first_chars(list(av[3]), chars)
        elif op == sre.BRANCH:
            for branch in av[1]:
                found |= _first_chars(list(branch), chars)
        elif op in _REPEATS:
            found |= _first_chars(list(av[2]), chars)
        else:
            found |= chars([(op, av)])
        if not _nullable(op, av):
            return found
    return found


def _leading_lookbehind(items, chars) -> frozenset[str]:
    """Characters a negative lookbehind at the very start of the pattern refuses before a match."""
    refused: frozenset[str] = frozenset()
    for op, av in items:
        if op == sre.ASSERT_NOT and av[0] == -1:
            refused |= chars(av[1])
        elif op in _LOOKAROUND or op == sre.AT:
            continue
        else:
            break
    return refused


def _holds_unbounded(op, av) -> bool:
    return any(o in _REPEATS and a[1] == sre.MAXREPEAT for o, a in _walk([(op, av)]))


def _meeting_repeats(items: list, chars) -> Iterable[tuple]:
    """Pairs of unbounded repeats (or groups holding one) that can take the same run."""
    flat = [(op, av) for op, av in items if op not in _LOOKAROUND and op != sre.AT]
    for i, (op, av) in enumerate(flat):
        if op == sre.SUBPATTERN:
            yield from _meeting_repeats(list(av[3]), chars)
        elif op == sre.BRANCH:
            for branch in av[1]:
                yield from _meeting_repeats(list(branch), chars)
        if not _holds_unbounded(op, av):
            continue
        shared = chars([(op, av)])
        for later_op, later_av in flat[i + 1 :]:
            if _holds_unbounded(later_op, later_av) and shared & chars([(later_op, later_av)]):
                yield (op, av), (later_op, later_av)
                break
            if not _nullable(later_op, later_av):
                # A run both could take passes through this item: only its characters remain.
                shared &= chars([(later_op, later_av)])
                if not shared:
                    break


def _describe(item) -> str:
    """A short name for a parsed item, for messages."""
    return f"`{_unparse(item)}`"


def _unparse(item) -> str:
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], sre._NamedIntConstant):
        items = [item]
    else:
        items = list(item)
    out = []
    for op, av in items:
        if op == sre.LITERAL:
            out.append(re.escape(chr(av)))
        elif op == sre.IN:
            out.append("[…]" if len(av) > 1 else _unparse_set(av))
        elif op in _REPEATS:
            low, high = av[0], av[1]
            mark = {(0, sre.MAXREPEAT): "*", (1, sre.MAXREPEAT): "+"}.get((low, high))
            mark = mark or (f"{{{low},}}" if high == sre.MAXREPEAT else f"{{{low},{high}}}")
            out.append(_unparse(av[2]) + mark)
        elif op == sre.SUBPATTERN:
            out.append(f"({_unparse(av[3])})")
        else:
            out.append("…")
    return "".join(out)


def _unparse_set(members) -> str:
    kind, value = members[0]
    names = {
        sre.CATEGORY_DIGIT: r"\d",
        sre.CATEGORY_SPACE: r"\s",
        sre.CATEGORY_WORD: r"\w",
        sre.CATEGORY_NOT_DIGIT: r"\D",
        sre.CATEGORY_NOT_SPACE: r"\S",
        sre.CATEGORY_NOT_WORD: r"\W",
    }
    if kind == sre.CATEGORY:
        return names.get(value, "[…]")
    if kind == sre.LITERAL:
        return re.escape(chr(value))
    return "[…]"
