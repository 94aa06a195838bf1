"""Add phrasings to an article's `keywords` by editing its text, never by dumping YAML again:
every other line of the file (comments, quoting, key order, flow lists, line endings) stays
byte for byte as the editor wrote it, so the change reviews as the few lines it adds.

The result is checked by parsing it: the front matter must read as before plus the new
keywords, or KeywordPatchError says why and nothing is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import yaml

_KEYWORDS_BLOCK = re.compile(r"keywords:[ \t]*(#.*)?$")
_KEYWORDS_FLOW = re.compile(r"keywords:[ \t]*\[(?P<items>[^\]]*)\](?P<rest>[ \t]*(#.*)?)$")
_TOP_LEVEL_KEY = re.compile(r"[A-Za-z_][\w-]*:")


class KeywordPatchError(ValueError):
    """The file's front matter could not be edited safely; the message says why."""


def yaml_scalar(phrase: str, in_flow: bool = False) -> str:
    """The phrase as a YAML scalar that reads back as this very string: plain where YAML
    allows, else double-quoted (a JSON string is a valid YAML double-quoted scalar)."""
    plain_ok = (
        phrase == phrase.strip()
        and phrase
        and not re.search(r"[:#'\"\n\t]|^[-?!&*|>%@`{}\[\],]", phrase)
        and not (in_flow and re.search(r"[,\[\]{}]", phrase))
    )
    if plain_ok:
        try:
            if yaml.safe_load(phrase) == phrase:
                return phrase
        except yaml.YAMLError:
            pass
    return json.dumps(phrase, ensure_ascii=False)


def _front_matter_end(lines: list[str]) -> int:
    """The index of the closing `---` line."""
    if not lines or lines[0].rstrip("\r\n") != "---":
        raise KeywordPatchError("文件不是以 --- 开头的 front matter")
    for i in range(1, len(lines)):
        if lines[i].rstrip("\r\n") == "---":
            return i
    raise KeywordPatchError("front matter 没有结束的 ---")


def _front_matter(lines: list[str], end: int) -> dict:
    try:
        data = yaml.safe_load("".join(lines[1:end])) or {}
    except yaml.YAMLError as e:
        raise KeywordPatchError(f"front matter 不是合法的 YAML：{e}") from None
    if not isinstance(data, dict):
        raise KeywordPatchError("front matter 不是键值映射")
    return data


def add_keywords(text: str, phrasings: Sequence[str]) -> str:
    """The article's text with `phrasings` appended to its keywords (those it has are skipped).

    A block list gets new `- item` lines after its last item, indented like it; a one-line
    flow list (`keywords: [a, b]`) gets the items before its `]`; an article without keywords
    gets a block list just before the closing `---`.

    Raises:
        KeywordPatchError: no front matter, invalid YAML, keywords of another shape, or an
            edit that would not read back as intended.
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    end = _front_matter_end(lines)
    before = _front_matter(lines, end)
    existing = before.get("keywords") or []
    if not isinstance(existing, list):
        raise KeywordPatchError("keywords 不是列表")
    new = [p for p in dict.fromkeys(phrasings) if p not in existing]
    if not new:
        return text

    found = [i for i in range(1, end) if lines[i].startswith("keywords:")]
    if not found:
        block = [f"keywords:{newline}"] + [f"  - {yaml_scalar(p)}{newline}" for p in new]
        lines[end:end] = block
    else:
        at = found[0]
        head = lines[at].rstrip("\r\n")
        flow = _KEYWORDS_FLOW.match(head)
        if flow:
            items = flow.group("items").rstrip()
            added = ", ".join(yaml_scalar(p, in_flow=True) for p in new)
            joined = f"{items}, {added}" if items.strip() else added
            eol = lines[at][len(head) :]
            lines[at] = f"keywords: [{joined}]{flow.group('rest')}{eol}"
        elif _KEYWORDS_BLOCK.match(head):
            last, indent = at, "  "
            for i in range(at + 1, end):
                line = lines[i].rstrip("\r\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue  # blank lines and comments inside the list
                if _TOP_LEVEL_KEY.match(line):
                    break
                stripped = line.lstrip()
                if stripped.startswith("- ") or stripped == "-":
                    indent = line[: len(line) - len(stripped)]
                last = i  # an item or a continuation of one
            lines[last + 1 : last + 1] = [f"{indent}- {yaml_scalar(p)}{newline}" for p in new]
        else:
            raise KeywordPatchError("keywords 的写法无法自动追加：请改成每行一个 “- 说法”")

    result = "".join(lines)
    result_lines = result.splitlines(keepends=True)
    after = _front_matter(result_lines, _front_matter_end(result_lines))
    expected = {**before, "keywords": existing + new}
    if after != expected:
        raise KeywordPatchError("追加后 front matter 读出的内容与预期不同，未修改文件")
    return result
