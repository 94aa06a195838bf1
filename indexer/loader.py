"""Read kb/ files into a KnowledgeBase, collecting every problem with its file and line."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from pathlib import Path
from typing import Any

import yaml

from indexer import parallel
from indexer.model import (
    SHOP_PLATFORM,
    Article,
    Category,
    FactDef,
    KnowledgeBase,
    Problem,
    Reply,
    ShopEntry,
    SlotDef,
    SlotPattern,
    Step,
)
from indexer.regex_safety import linear_time_problem

FRONT_MATTER = "---"
AUDIENCES = ("buyer", "staff")
# Where a reply may go in a composed message besides the body: a greeting or a goodbye.
REPLY_USES = ("", "opening", "closing")

# Front-matter fields: name -> (required, kind). Kinds are checked by _check_kind.
ARTICLE_FIELDS: dict[str, tuple[bool, str]] = {
    "id": (True, "str"),
    "title": (True, "str"),
    "category": (True, "str"),
    "tags": (True, "str_list"),
    "platforms": (False, "str_list"),
    "keywords": (False, "str_list"),
    "examples": (False, "str_list"),
    "specializes": (False, "str"),
    "owner": (True, "str"),
    "reviewed": (True, "date"),
    "review_every_days": (True, "positive_int"),
    "effective_from": (False, "date"),
    "effective_until": (False, "date"),
    "applies_when": (False, "conditions"),
    "audience": (False, "audience"),
    "sources": (False, "str_list"),
    "checklist": (True, "checklist"),
    "replies": (True, "replies"),
}

KIND_HINTS = {
    "str": "一段文字",
    "str_list": "一个文字列表",
    "date": "日期 YYYY-MM-DD",
    "positive_int": "正整数天数",
    "audience": "`buyer`（买家的问题，默认）或 `staff`（内部流程：批发、仓库、财务、客服培训）",
    "conditions": "事实到取值的映射",
    "checklist": "步骤列表，每步是一句话或 `{text: ..., when: {...}}`",
    "replies": "回复列表，每条是 `{id: ..., title: ..., text: ...}`",
}
# What each field looks like, shown in that field's own problems (a missing `owner` is shown
# `owner: 售后组`, not another field's example).
FIELD_EXAMPLES = {
    "id": "id: cancel-before-shipment",
    "title": "title: 已付款未发货：买家要求取消订单",
    "category": "category: before-shipment",
    "tags": "tags: [退款, 未发货]",
    "platforms": "platforms: [淘宝, 拼多多]",
    "keywords": "keywords: [不想要了, 拍错了能取消吗]",
    "examples": "examples: [在吗 刚拍的那单不想要了 还没发吧 帮我取消]",
    "specializes": "specializes: exchange-general",
    "owner": "owner: 售后组",
    "reviewed": "reviewed: 2026-11-20",
    "review_every_days": "review_every_days: 180",
    "effective_from": "effective_from: 2026-12-01",
    "effective_until": "effective_until: 2027-03-31",
    "applies_when": "applies_when: {order_status: 未发货}",
    "audience": "audience: staff",
    "sources": "sources: [消费者权益保护法 第二十五条, 淘宝平台争议处理规则]",
    "checklist": "checklist: [核对订单状态, 告知处理结果]",
    "replies": "replies: [{id: confirm, title: 确认处理, text: 亲，已为您处理好了～}]",
}


def field_hint(name: str, kind: str) -> str:
    """What a field should hold, with an example of that very field."""
    return f"{KIND_HINTS[kind]}，例如 `{FIELD_EXAMPLES[name]}`"


# libyaml's parser where PyYAML was built with it: ~10x faster, which matters at 10,000 articles.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ImpossibleValue(ValueError):
    """A value PyYAML parses but cannot construct (2026-02-30), with the document's nodes."""

    def __init__(self, node: yaml.Node, error: ValueError):
        super().__init__(str(error))
        self.node = node


def compose_and_load(text: str) -> tuple[yaml.Node | None, object]:
    """Parse YAML once into its node tree (for line numbers) and its Python value."""
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        try:
            return node, (loader.construct_document(node) if node is not None else None)
        except ValueError as e:
            raise ImpossibleValue(node, e) from e
    finally:
        loader.dispose()


def _python_yaml_error(text: str, error: yaml.YAMLError) -> yaml.YAMLError:
    """PyYAML's own error for broken YAML: its messages are clearer than libyaml's."""
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as python_error:
        return python_error
    return error


class _Lines:
    """Line numbers of a YAML document's keys, from yaml.compose, offset to the file."""

    def __init__(self, node: yaml.Node | None, offset: int):
        self.node = node
        self.offset = offset

    def of(self, node: yaml.Node | None) -> int:
        return (node.start_mark.line if node is not None else 0) + 1 + self.offset

    def key(self, name: str) -> int:
        value = self.value(name)
        if isinstance(self.node, yaml.MappingNode):
            for k, _ in self.node.value:
                if k.value == name:
                    return self.of(k)
        return self.of(value) if value is not None else 1 + self.offset

    def value(self, name: str) -> yaml.Node | None:
        if isinstance(self.node, yaml.MappingNode):
            for k, v in self.node.value:
                if k.value == name:
                    return v
        return None

    def items(self, name: str) -> list[int]:
        """Lines of the items of a sequence value."""
        value = self.value(name)
        if isinstance(value, yaml.SequenceNode):
            return [self.of(item) for item in value.value]
        return []


# The codes of the problems found while reading files (before any lint rule runs), with what
# each means for an editor: `kb lint --rules` lists them with the rules' own codes.
PROBLEM_CODES = {
    "encoding": "文件必须是 UTF-8 编码（不要用 GBK/GB2312 另存）。",
    "yaml-syntax": "YAML 语法错误：检查缩进、冒号后的空格，特殊字符开头的文字加引号。",
    "front-matter": "文章以 `---` 开头的 YAML 头信息开始，头信息是“字段: 值”的映射，再以 `---` 结束。",
    "unknown-field": "头信息只能用文章格式里的字段（kb/README.md），拼错的字段会提示最接近的写法。",
    "missing-field": "必填字段不能缺（id、title、category、checklist、replies 等）。",
    "field-type": "字段值的类型要对：日期写成 2026-11-01，列表用 [a, b]，条件写成 `事实: 取值`。",
    "empty-checklist": "清单 `checklist` 至少有一步。",
    "step-shape": "步骤是一句话，或 `{text: 步骤内容, when: {事实: 取值}}`。",
    "empty-replies": "回复 `replies` 至少有一条回复模板。",
    "reply-shape": "回复有 `id`、`title`、`text` 三个文字字段，可选 `when` 条件。",
    "missing-file": "知识库需要的文件（categories.yaml、facts.yaml、slots.yaml 等）必须存在。",
    "file-shape": "categories.yaml、facts.yaml、slots.yaml 等文件的每一项要按文件开头注释的格式写。",
    "slot-pattern": "slots.yaml 里槽位的 `patterns` 必须是有效的正则表达式。",
    "shop-entry": "shop.yaml 的每一项写成 `键: {label: 中文名, value: 值}`，可加 `example: true` 标明示例值；值留空表示未设置。",
    "shop-platform": "shop.yaml 的 `platform`（本店所在平台）要写 facts.yaml 里平台的一个取值，多平台店铺留空。",
    "fact-pattern": "facts.yaml 里事实的 `patterns` 必须是有效的正则表达式，且只用 `values` 里的取值。",
    "fact-phrase-twice": (
        "facts.yaml 里同一个短语只写在一个事实取值下（也不要同时写进 `ignore`）：一样长的匹配只读成"
        "先写的那个，另一处永远不起作用；警告。"
    ),
    "slot-pattern-linear": (
        "slots.yaml 和 facts.yaml 里的正则表达式在长串输入上要线性时间：以 `\\d+` 这类无上限重复"
        "开头的，要加否定后顾 `(?<!\\d)`；不要嵌套重复，也不要让两个无上限重复取同一串字符。"
    ),
}


def yaml_problem(path: str, error: yaml.YAMLError, offset: int = 0) -> Problem:
    """Turn a PyYAML error into a Problem on the parser's own line."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = (mark.line + 1 + offset) if mark else 1 + offset
    what = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    detail = f"{context}, {what}" if context else what
    return Problem(
        path,
        line,
        f"YAML 语法错误：{detail}。检查这一行及上一行的缩进、冒号后的空格，"
        "含 : # [ ] { } 或以 > * & 开头的文字请用引号括起来",
        "yaml-syntax",
    )


def read_text(path: Path, shown: str) -> tuple[str | None, list[Problem]]:
    """Read a file as UTF-8; a decoding failure is a problem on the line of the bad byte."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        return None, [
            Problem(
                shown,
                line,
                f"文件不是 UTF-8 编码（第 {e.start} 字节）。请用 UTF-8 另存此文件"
                "（编辑器“另存为”里选择 UTF-8，不要用 GBK/GB2312）",
                "encoding",
            )
        ]


def split_front_matter(text: str) -> tuple[str, str, int] | None:
    """Return (front matter, body, body's first line) or None when there is no front matter."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != FRONT_MATTER:
        return None
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == FRONT_MATTER:
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1 :]), i + 2
    return None


def _impossible_date(shown: str, node: yaml.Node, error: ValueError) -> Problem:
    """A problem on the line of the first date-like value that is not a real date."""
    nodes, bad = [node], None
    while nodes and bad is None:
        current = nodes.pop(0)
        if isinstance(current, yaml.ScalarNode) and current.tag.endswith(":timestamp"):
            try:
                yaml.SafeLoader("").construct_yaml_timestamp(current)
            except ValueError:
                bad = current
        elif isinstance(current, yaml.SequenceNode):
            nodes = current.value + nodes
        elif isinstance(current, yaml.MappingNode):
            nodes = [n for pair in current.value for n in pair] + nodes
    line = _Lines(node, offset=1).of(bad) if bad is not None else 2
    shown_value = f"`{bad.value}` " if bad is not None else ""
    return Problem(
        shown,
        line,
        f"日期 {shown_value}不存在（{error}）：应为{KIND_HINTS['date']}，例如 `2026-11-20`",
        "field-type",
    )


def _check_kind(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str) and bool(value.strip())
    if kind == "str_list":
        return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)
    if kind == "date":
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    if kind == "positive_int":
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    if kind == "conditions":
        return isinstance(value, dict)
    if kind == "audience":
        return value in AUDIENCES
    return isinstance(value, list)


def _conditions(raw: Any) -> dict[str, list[str]] | None:
    """Normalise a `when`/`applies_when` mapping to fact -> list of strings, or None if malformed."""
    if not isinstance(raw, dict):
        return None
    out: dict[str, list[str]] = {}
    for fact, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str | int | float) and v != "" for v in values):
            return None
        out[str(fact)] = [str(v) for v in values]
    return out


def parse_article(text: str, shown: str) -> tuple[Article | None, list[Problem]]:
    """Parse one article file's text; return the Article (None if unusable) and its problems."""
    parts = split_front_matter(text)
    if parts is None:
        return None, [
            Problem(
                shown,
                1,
                "缺少 YAML 头信息：文件第一行应为 `---`，头信息之后再写一行 `---`，然后是正文",
                "front-matter",
            )
        ]
    front, body, body_line = parts
    try:
        node, data = compose_and_load(front)
    except yaml.YAMLError as e:
        return None, [yaml_problem(shown, _python_yaml_error(front, e), offset=1)]
    except ImpossibleValue as e:
        # PyYAML raises a bare ValueError for a date the calendar lacks (2026-02-30).
        return None, [_impossible_date(shown, e.node, e)]
    lines = _Lines(node, offset=1)
    if not isinstance(data, dict):
        return None, [Problem(shown, 2, "头信息应是“字段: 值”的映射", "front-matter")]

    problems: list[Problem] = []
    for key in data:
        if key not in ARTICLE_FIELDS:
            close = difflib.get_close_matches(str(key), ARTICLE_FIELDS, n=1)
            hint = (
                f"，是不是 `{close[0]}`？" if close else f"。可用字段：{', '.join(ARTICLE_FIELDS)}"
            )
            problems.append(
                Problem(shown, lines.key(str(key)), f"未知字段 `{key}`{hint}", "unknown-field")
            )
    for name, (required, kind) in ARTICLE_FIELDS.items():
        if name not in data or data[name] is None:
            if required:
                problems.append(
                    Problem(
                        shown,
                        2,
                        f"缺少必填字段 `{name}`：应为{field_hint(name, kind)}",
                        "missing-field",
                    )
                )
            continue
        if not _check_kind(kind, data[name]):
            line, got = _offending(lines, name, kind, data[name])
            problems.append(
                Problem(
                    shown,
                    line,
                    f"字段 `{name}` 类型不对（{got}）：应为{field_hint(name, kind)}",
                    "field-type",
                )
            )

    steps = _parse_checklist(data.get("checklist"), lines, shown, problems)
    replies = _parse_replies(data.get("replies"), lines, shown, problems)
    applies_when = {}
    if isinstance(data.get("applies_when"), dict):
        applies_when = _conditions(data["applies_when"])
        if applies_when is None:
            problems.append(
                Problem(
                    shown,
                    lines.key("applies_when"),
                    "`applies_when` 的每个值应是一个取值或取值列表，例如 `order_status: 未发货`",
                    "field-type",
                )
            )
            applies_when = {}

    if any(p.rule in ("missing-field", "field-type") for p in problems):
        return None, problems
    return _article(data, lines, body, body_line, shown, steps, replies, applies_when), problems


def _offending(lines: _Lines, name: str, kind: str, value: Any) -> tuple[int, str]:
    """The line of what is wrong in a field (the bad item of a list, not the list's first
    line) and what was found there."""
    if kind == "str_list" and isinstance(value, list):
        for item, line in zip(value, lines.items(name), strict=False):
            if not (isinstance(item, str) and item.strip()):
                return line, f"其中一项是 {_shown_value(item)}"
    return lines.key(name), f"现在是 {_shown_value(value)}"


def _shown_value(value: Any) -> str:
    kinds = {str: "文字", int: "数字", float: "数字", bool: "真假值", list: "列表", dict: "映射"}
    kind = kinds.get(type(value), type(value).__name__)
    if isinstance(value, dt.date):
        kind = "日期"
    if value is None or (isinstance(value, str) and not value.strip()):
        return "空值"
    return f"{kind} `{value}`" if not isinstance(value, list | dict) else kind


def parse_draft(text: str, shown: str) -> Article | None:
    """An article that failed to load, rebuilt from what it does have (missing or mistyped
    fields get neutral stand-ins), so lint still checks the rest of it and other files' links
    to it resolve. None when its front matter cannot be read at all. Never indexed."""
    parts = split_front_matter(text)
    if parts is None:
        return None
    front, body, body_line = parts
    try:
        node, data = compose_and_load(front)
    except (yaml.YAMLError, ImpossibleValue):
        return None
    if not isinstance(data, dict):
        return None
    lines = _Lines(node, offset=1)
    stand_ins = {
        "id": Path(shown).stem,
        "title": "",
        "category": "",
        "tags": [],
        "owner": "",
        "reviewed": dt.date(2000, 1, 1),  # with 100 years to review: never due, never future
        "review_every_days": 36500,
    }
    usable = {
        name: data[name]
        for name, (_, kind) in ARTICLE_FIELDS.items()
        if name in data and data[name] is not None and _check_kind(kind, data[name])
    }
    present = set(usable)
    for name, value in stand_ins.items():
        usable.setdefault(name, value)
    ignored: list[Problem] = []  # the real parse reported them
    steps = _parse_checklist(usable.get("checklist"), lines, shown, ignored)
    replies = _parse_replies(usable.get("replies"), lines, shown, ignored)
    applies_when = _conditions(usable.get("applies_when", {})) or {}
    # Its `lines` name only the fields the file has right: rules skip the stand-ins.
    return _article(usable, lines, body, body_line, shown, steps, replies, applies_when, present)


def _article(
    data: dict,
    lines: _Lines,
    body: str,
    body_line: int,
    shown: str,
    steps: list[Step],
    replies: list[Reply],
    applies_when: dict[str, list[str]],
    present: set[str] | None = None,
) -> Article:
    key_lines = {name: lines.key(name) for name in (data if present is None else present)}
    key_lines["body"] = body_line
    return Article(
        id=data["id"],
        title=data["title"].strip(),
        category=data["category"],
        tags=tuple(data["tags"]),
        keywords=tuple(data.get("keywords") or ()),
        platforms=tuple(data.get("platforms") or ()),
        owner=data["owner"],
        reviewed=data["reviewed"],
        review_every_days=data["review_every_days"],
        applies_when=applies_when,
        checklist=tuple(steps),
        replies=tuple(replies),
        body=body.strip(),
        path=shown,
        effective_from=data.get("effective_from"),
        effective_until=data.get("effective_until"),
        audience=data.get("audience", "buyer"),
        sources=tuple(s.strip() for s in data.get("sources") or ()),
        examples=tuple(data.get("examples") or ()),
        specializes=(data.get("specializes") or "").strip(),
        lines=key_lines,
    )


def _parse_checklist(raw: Any, lines: _Lines, shown: str, problems: list[Problem]) -> list[Step]:
    if not isinstance(raw, list):
        return []
    if not raw:
        problems.append(
            Problem(
                shown,
                lines.key("checklist"),
                "清单 `checklist` 不能为空：至少写一步",
                "empty-checklist",
            )
        )
    steps = []
    for item, line in zip(raw, lines.items("checklist"), strict=False):
        if isinstance(item, str) and item.strip():
            steps.append(Step(item.strip(), {}, line))
            continue
        if isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"].strip():
            extra = set(item) - {"text", "when"}
            when = _conditions(item.get("when", {}))
            if extra or when is None:
                problems.append(
                    Problem(
                        shown,
                        line,
                        "条件步骤只能有 `text` 和 `when`，`when` 的值是取值或取值列表，"
                        "例如 `- text: ...` 换行 `  when: {reason: 七天无理由}`",
                        "step-shape",
                    )
                )
                continue
            steps.append(Step(item["text"].strip(), when, line))
            continue
        problems.append(
            Problem(
                shown,
                line,
                "步骤应是一句话，或 `{text: 步骤内容, when: {事实: 取值}}`",
                "step-shape",
            )
        )
    return steps


def _parse_replies(raw: Any, lines: _Lines, shown: str, problems: list[Problem]) -> list[Reply]:
    if not isinstance(raw, list):
        return []
    if not raw:
        problems.append(
            Problem(
                shown,
                lines.key("replies"),
                "回复 `replies` 不能为空：至少写一条回复模板",
                "empty-replies",
            )
        )
    replies = []
    for item, line in zip(raw, lines.items("replies"), strict=False):
        ok = isinstance(item, dict) and all(
            isinstance(item.get(k), str) and item[k].strip() for k in ("id", "title", "text")
        )
        when = _conditions(item.get("when", {})) if ok else None
        use = item.get("use", "") if ok else None
        if (
            not ok
            or when is None
            or use not in REPLY_USES
            or set(item) - {"id", "title", "text", "when", "use"}
        ):
            problems.append(
                Problem(
                    shown,
                    line,
                    "回复应有 `id`、`title`、`text` 三个文字字段（可选 `when` 条件；开场或结尾"
                    "语加 `use: opening` 或 `use: closing`），例如 "
                    "`- id: confirm-cancel` / `title: 同意取消` / `text: 亲，您好……`",
                    "reply-shape",
                )
            )
            continue
        replies.append(
            Reply(item["id"], item["title"].strip(), item["text"].strip(), line, when, use)
        )
    return replies


def load_articles(kb_dir: Path) -> tuple[list[Article], list[Problem]]:
    """Load every kb/articles/**/*.md file, in a stable order (on every core for a big KB)."""
    articles, problems, _ = load_articles_and_drafts(kb_dir)
    return articles, problems


def load_articles_and_drafts(kb_dir: Path) -> tuple[list[Article], list[Problem], list[Article]]:
    """load_articles, plus a draft (parse_draft) of each article that failed to load, for lint."""
    articles, problems, drafts = [], [], []
    paths = sorted((kb_dir / "articles").rglob("*.md"))
    jobs = [(path, _shown(path, kb_dir)) for path in paths]
    big = len(jobs) >= parallel.PARALLEL_MIN_ITEMS
    for article, article_problems, draft in parallel.fork_imap(
        _load_article, jobs, big, chunksize=64
    ):
        problems += article_problems
        if article is not None:
            articles.append(article)
        elif draft is not None:
            drafts.append(draft)
    return articles, problems, drafts


def _load_article(job: tuple[Path, str]) -> tuple[Article | None, list[Problem], Article | None]:
    path, shown = job
    text, problems = read_text(path, shown)
    if text is None:
        return None, problems, None
    article, article_problems = parse_article(text, shown)
    draft = parse_draft(text, shown) if article is None else None
    return article, problems + article_problems, draft


def _shown(path: Path, kb_dir: Path) -> str:
    """Path as an editor sees it: relative to the repository that holds kb/."""
    try:
        return str(path.relative_to(kb_dir.parent))
    except ValueError:
        return str(path)


def _load_yaml(path: Path, kb_dir: Path, problems: list[Problem]) -> Any:
    return _load_yaml_lines(path, kb_dir, problems)[0]


def _load_yaml_lines(
    path: Path, kb_dir: Path, problems: list[Problem]
) -> tuple[Any, yaml.Node | None]:
    """A KB settings file's value and its node tree, whose marks give each entry's line."""
    shown = _shown(path, kb_dir)
    if not path.exists():
        problems.append(Problem(shown, 1, f"缺少文件 {path.name}", "missing-file"))
        return None, None
    text, read_problems = read_text(path, shown)
    problems += read_problems
    if text is None:
        return None, None
    try:
        node, data = compose_and_load(text)
    except yaml.YAMLError as e:
        problems.append(yaml_problem(shown, _python_yaml_error(text, e)))
        return None, None
    except ImpossibleValue as e:
        problems.append(Problem(shown, 1, f"YAML 值无效：{e}", "yaml-syntax"))
        return None, None
    return data, node


def _line_of(node: yaml.Node | None, *keys: str | int) -> int:
    """1-based line of the entry at `keys` in a node tree (a mapping key's own line), or of the
    deepest entry found on the way; 1 without a tree."""
    line = 1
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _word_lines(path: Path, kb_dir: Path, problems: list[Problem]) -> list[str]:
    if not path.exists():
        return []
    text, read_problems = read_text(path, _shown(path, kb_dir))
    problems += read_problems
    if text is None:
        return []
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _mapping(data: Any, path: Path, kb_dir: Path, problems: list[Problem]) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(
            Problem(_shown(path, kb_dir), 1, "文件内容应是“键: 值”的映射", "file-shape")
        )
        return {}
    return data


def load_categories(kb_dir: Path, problems: list[Problem]) -> dict[str, Category]:
    path = kb_dir / "categories.yaml"
    data, node = _load_yaml_lines(path, kb_dir, problems)
    data = _mapping(data, path, kb_dir, problems)
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(value.get("name"), str):
            out[str(key)] = Category(str(key), value["name"], str(value.get("description", "")))
        else:
            problems.append(
                Problem(
                    _shown(path, kb_dir),
                    _line_of(node, key),
                    f"分类 `{key}` 需要 `name: 中文名`",
                    "file-shape",
                )
            )
    return out


def load_facts(kb_dir: Path, problems: list[Problem]) -> dict[str, FactDef]:
    path = kb_dir / "facts.yaml"
    data, node = _load_yaml_lines(path, kb_dir, problems)
    data = _mapping(data, path, kb_dir, problems)
    out = {}
    for name, spec in data.items():
        spec = spec if isinstance(spec, dict) else {}
        kind = spec.get("type")
        values = spec.get("values") or {}
        if kind == "enum" and isinstance(values, dict):
            problems += _phrases_listed_twice(name, spec, _shown(path, kb_dir), node)
            out[name] = FactDef(
                name,
                str(spec.get("label", name)),
                "enum",
                {str(v): tuple(str(p) for p in (phrases or [])) for v, phrases in values.items()},
                gate=spec.get("gate") is True,
                patterns=_fact_patterns(
                    spec.get("patterns"), name, values, path, kb_dir, node, problems
                ),
                ignore=_phrase_list(spec, "ignore", name, path, kb_dir, node, problems),
                not_after=_phrase_list(spec, "not_after", name, path, kb_dir, node, problems),
                examples=_phrase_list(spec, "examples", name, path, kb_dir, node, problems),
            )
        elif kind == "number" and spec.get("extractor"):
            out[name] = FactDef(
                name,
                str(spec.get("label", name)),
                "number",
                {},
                spec["extractor"],
                ignore=_phrase_list(spec, "ignore", name, path, kb_dir, node, problems),
                not_after=_phrase_list(spec, "not_after", name, path, kb_dir, node, problems),
            )
        else:
            problems.append(
                Problem(
                    _shown(path, kb_dir),
                    _line_of(node, name),
                    f"事实 `{name}` 应为 `type: enum` 加 `values:`，或 `type: number` 加 `extractor:`",
                    "file-shape",
                )
            )
    return out


def _phrases_listed_twice(name: str, spec: dict, shown: str, node) -> list[Problem]:
    """A phrase under two values of a fact, or under a value and `ignore`: of two matches as
    long, extract_enum keeps the one listed first, so the other entry never counts."""
    problems = []
    first: dict[str, str] = {}  # lower-cased phrase -> the value (or ignore) it is listed under
    listed = [
        (str(value), index, str(phrase))
        for value, phrases in (spec.get("values") or {}).items()
        if isinstance(phrases, list)
        for index, phrase in enumerate(phrases)
    ]
    ignore = spec.get("ignore")
    if isinstance(ignore, list):
        listed += [("ignore", index, str(phrase)) for index, phrase in enumerate(ignore)]
    for value, index, phrase in listed:
        where = first.setdefault(phrase.lower(), value)
        if where == value:
            continue
        keys = ("values", value, index) if value != "ignore" else ("ignore", index)
        problems.append(
            Problem(
                shown,
                _line_of(node, name, *keys),
                f"事实 `{name}` 的短语「{phrase}」已写在 `{where}` 下，这里（`{value}`）"
                f"的这一条不起作用：只留在它该读成的那一处",
                "fact-phrase-twice",
                "warning",
            )
        )
    return problems


def _phrase_list(spec, key, name, path, kb_dir, node, problems) -> tuple[str, ...]:
    """A fact's list of phrases under `key` (ignore, not_after, examples); anything else is
    reported: a bare string would otherwise be read one character at a time."""
    raw = spec.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(p, str) and p.strip() for p in raw):
        problems.append(
            Problem(
                _shown(path, kb_dir),
                _line_of(node, name, key),
                f"事实 `{name}` 的 `{key}` 应是短语列表，例如 `{key}: [收到短信, 不用了]`",
                "file-shape",
            )
        )
        return ()
    return tuple(raw)


def _fact_patterns(raw, name, values, path, kb_dir, node, problems) -> dict[str, tuple[str, ...]]:
    """A fact's `patterns:` (value -> regular expressions), each compiled once to check it."""
    if raw is None:
        return {}
    shown, line = _shown(path, kb_dir), _line_of(node, name, "patterns")
    if not isinstance(raw, dict):
        problems.append(
            Problem(
                shown,
                line,
                f"事实 `{name}` 的 `patterns` 应是取值到正则表达式列表的映射",
                "file-shape",
            )
        )
        return {}
    out = {}
    for value, regexes in raw.items():
        if str(value) not in {str(v) for v in values}:
            problems.append(
                Problem(
                    shown,
                    line,
                    f"事实 `{name}` 的 `patterns` 用了未在 `values` 中的取值 `{value}`",
                    "fact-pattern",
                )
            )
            continue
        kept = []
        for regex in regexes if isinstance(regexes, list) else [regexes]:
            try:
                re.compile(str(regex))
            except re.error as e:
                problems.append(
                    Problem(
                        shown,
                        line,
                        f"事实 `{name}` 的正则表达式 `{regex}` 无效：{e}",
                        "fact-pattern",
                    )
                )
                continue
            slow = linear_time_problem(str(regex))
            if slow:
                problems.append(
                    Problem(
                        shown,
                        line,
                        f"事实 `{name}` 的正则表达式 `{regex}` 在长串输入上会很慢：{slow}",
                        "slot-pattern-linear",
                    )
                )
                continue
            kept.append(str(regex))
        out[str(value)] = tuple(kept)
    return out


def load_slots(kb_dir: Path, problems: list[Problem]) -> dict[str, SlotDef]:
    path = kb_dir / "slots.yaml"
    data, node = _load_yaml_lines(path, kb_dir, problems)
    data = _mapping(data, path, kb_dir, problems)
    out = {}
    for name, spec in data.items():
        spec = spec if isinstance(spec, dict) else {}
        patterns = []
        for number, raw in enumerate(spec.get("patterns") or []):
            pattern = (
                SlotPattern(raw)
                if isinstance(raw, str)
                else SlotPattern(str(raw.get("pattern", "")), tuple(raw.get("near") or ()))
            )
            try:
                re.compile(pattern.regex)
            except re.error as e:
                problems.append(
                    Problem(
                        _shown(path, kb_dir),
                        _line_of(node, name, "patterns", number),
                        f"槽位 `{name}` 的正则表达式有误：{e}",
                        "slot-pattern",
                    )
                )
                continue
            slow = linear_time_problem(pattern.regex, re.IGNORECASE)
            if slow:
                problems.append(
                    Problem(
                        _shown(path, kb_dir),
                        _line_of(node, name, "patterns", number),
                        f"槽位 `{name}` 的正则表达式在长串输入上会很慢：{slow}",
                        "slot-pattern-linear",
                    )
                )
                continue
            patterns.append(pattern)
        out[name] = SlotDef(
            name,
            str(spec.get("label", name)),
            tuple(patterns),
            tuple(str(v) for v in spec.get("values") or ()),
            str(spec.get("from_fact", "")),
        )
    return out


def load_shop(kb_dir: Path, problems: list[Problem]) -> dict[str, ShopEntry]:
    """The shop profile, kb/shop.yaml (optional: without it every {{shop.…}} is unknown)."""
    path = kb_dir / "shop.yaml"
    if not path.exists():
        return {}
    data, node = _load_yaml_lines(path, kb_dir, problems)
    data = _mapping(data, path, kb_dir, problems)
    out = {}
    for key, spec in data.items():
        line = _line_of(node, key)
        label = spec.get("label") if isinstance(spec, dict) else None
        value = spec.get("value") if isinstance(spec, dict) else None
        if (
            not isinstance(label, str)
            or not label.strip()
            or not (value is None or isinstance(value, str | int | float))
            or isinstance(value, bool)
        ):
            problems.append(
                Problem(
                    _shown(path, kb_dir),
                    line,
                    f"店铺资料 `{key}` 应写成 `{key}: {{label: 中文名, value: 值}}`"
                    "（值是一段文字，留空表示未设置）",
                    "shop-entry",
                )
            )
            continue
        text = "" if value is None else str(value).strip()
        out[str(key)] = ShopEntry(str(key), label.strip(), text, spec.get("example") is True, line)
    return out


def load_kb(kb_dir: Path) -> tuple[KnowledgeBase, list[Problem]]:
    """Load the whole knowledge base; problems cover every file, not just the first bad one."""
    kb, problems, _ = load_kb_and_drafts(kb_dir)
    return kb, problems


def load_kb_and_drafts(kb_dir: Path) -> tuple[KnowledgeBase, list[Problem], list[Article]]:
    """load_kb, plus drafts of the articles that failed to load (parse_draft), for lint."""
    problems: list[Problem] = []
    articles, article_problems, drafts = load_articles_and_drafts(kb_dir)
    problems += article_problems
    synonyms_path = kb_dir / "synonyms.yaml"
    synonyms = _mapping(
        _load_yaml(synonyms_path, kb_dir, problems), synonyms_path, kb_dir, problems
    )
    banned_path = kb_dir / "banned_phrases.yaml"
    banned = _mapping(_load_yaml(banned_path, kb_dir, problems), banned_path, kb_dir, problems)
    kb = KnowledgeBase(
        articles=tuple(articles),
        categories=load_categories(kb_dir, problems),
        facts=load_facts(kb_dir, problems),
        slots=load_slots(kb_dir, problems),
        synonyms={str(k): tuple(str(v) for v in (vs or [])) for k, vs in synonyms.items()},
        stopwords=frozenset(_word_lines(kb_dir / "stopwords.txt", kb_dir, problems)),
        dict_words=tuple(_word_lines(kb_dir / "dict.txt", kb_dir, problems)),
        banned_phrases={str(k): str(v) for k, v in banned.items()},
        no_good_match_below=load_matching(kb_dir, problems),
        shop=load_shop(kb_dir, problems),
    )
    problems += shop_platform_problems(kb, kb_dir)
    return kb, problems, drafts


def shop_platform_problems(kb: KnowledgeBase, kb_dir: Path) -> list[Problem]:
    """The shop's platform must be a value of the platform fact, or matching never sees it."""
    entry = kb.shop.get(SHOP_PLATFORM)
    fact = kb.facts.get(SHOP_PLATFORM)
    if entry is None or not entry.value or fact is None or entry.value in fact.values:
        return []
    return [
        Problem(
            _shown(kb_dir / "shop.yaml", kb_dir),
            entry.line,
            f"本店所在平台“{entry.value}”不是 facts.yaml 里平台的取值；"
            f"写其中一个（{'、'.join(fact.values)}），多平台店铺留空",
            "shop-platform",
        )
    ]


def load_matching(kb_dir: Path, problems: list[Problem]) -> float:
    """The calibrated no-good-match line from kb/matching.yaml (optional: 0 never flags)."""
    path = kb_dir / "matching.yaml"
    if not path.exists():
        return 0.0
    data, node = _load_yaml_lines(path, kb_dir, problems)
    data = _mapping(data, path, kb_dir, problems)
    value = data.get("no_good_match_below", 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        problems.append(
            Problem(
                _shown(path, kb_dir),
                _line_of(node, "no_good_match_below"),
                "`no_good_match_below` 应是不小于 0 的数，例如 `no_good_match_below: 20.5`"
                "（用 `kb eval --calibrate` 计算）",
                "file-shape",
            )
        )
        return 0.0
    return float(value)
