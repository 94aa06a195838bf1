"""Lint rules for knowledge-base articles.

Each rule is a small function taking an article and the knowledge base and yielding Problems;
its docstring is the editor's documentation of the rule, and `@reports(...)` names the codes
its problems carry. `problem_codes()` is every code `kb lint` can print, with its documentation
and the loader's file-shape codes (`kb lint --rules` prints them).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from indexer.conditions import COMPARISON
from indexer.loader import PROBLEM_CODES, load_kb_and_drafts
from indexer.markup import LINK, PLACEHOLDER, shop_key
from indexer.model import Article, KnowledgeBase, Problem

ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EXPIRY_WARNING_DAYS = 14

Rule = Callable[[Article, KnowledgeBase, "SourceLines", dt.date], Iterator[Problem]]


def reports(*codes: str) -> Callable[[Rule], Rule]:
    """Name the codes a rule's problems carry (listed by `kb lint --rules`)."""

    def mark(rule: Rule) -> Rule:
        rule.codes = codes  # type: ignore[attr-defined]
        return rule

    return mark


class SourceLines:
    """A KB file's lines, to point a problem at the exact line of a word."""

    def __init__(self, path: Path):
        self.path = path
        self._lines: list[str] | None = None

    @classmethod
    def of(cls, root: Path, article: Article) -> SourceLines:
        return cls(root / article.path)

    @property
    def lines(self) -> list[str]:
        # Read only when a rule has a problem to place: most articles have none, and reading
        # every file a second time was half of the rules' time.
        if self._lines is None:
            path = self.path
            self._lines = path.read_text(encoding="utf-8").split("\n") if path.exists() else []
        return self._lines

    def find(self, needle: str, start: int) -> int:
        """Return the first 1-based line at or after `start` that contains `needle`."""
        for number in range(max(start, 1), len(self.lines) + 1):
            if needle in self.lines[number - 1]:
                return number
        return start


@reports("id-format", "id-file")
def rule_id_matches_file(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """`id` 只用小写字母、数字和连字符，并且等于文件名（不含 .md）。"""
    stem = Path(article.path).stem
    line = article.lines.get("id", 2)
    if not ID_PATTERN.match(article.id):
        yield Problem(
            article.path,
            line,
            f"id `{article.id}` 只能用小写字母、数字和连字符，例如 `{_slug_hint(article.id)}`",
            "id-format",
        )
    if article.id != stem:
        yield Problem(
            article.path,
            line,
            f"id `{article.id}` 与文件名 `{stem}.md` 不一致：把 id 改为 `{stem}`，或把文件改名为 `{article.id}.md`",
            "id-file",
        )


@reports("category-unknown", "category-folder")
def rule_category_known(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """`category` 必须是 categories.yaml 里的键，并且等于文章所在的文件夹名。"""
    line = article.lines.get("category", 2)
    folder = Path(article.path).parent.name
    if article.category not in kb.categories:
        yield Problem(
            article.path,
            line,
            f"未知分类 `{article.category}`，可用分类：{', '.join(kb.categories)}",
            "category-unknown",
        )
    elif article.category != folder:
        yield Problem(
            article.path,
            line,
            f"分类 `{article.category}` 与所在文件夹 `{folder}` 不一致：把文件移到 "
            f"articles/{article.category}/，或把 category 改为 `{folder}`",
            "category-folder",
        )


@reports("platform-unknown")
def rule_platforms_known(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """`platforms` 只能用 facts.yaml 中 platform 的取值。"""
    known = list(kb.facts["platform"].values) if "platform" in kb.facts else []
    for platform in article.platforms:
        if platform not in known:
            yield Problem(
                article.path,
                src.find(platform, article.lines.get("platforms", 2)),
                f"未知平台 `{platform}`，可用平台：{', '.join(known)}",
                "platform-unknown",
            )


def _condition_problems(
    conditions: dict[str, list[str]], kb: KnowledgeBase, path: str, line: int, where: str
) -> Iterator[Problem]:
    for fact, values in conditions.items():
        spec = kb.facts.get(fact)
        if spec is None:
            yield Problem(
                path,
                line,
                f"{where} 中的事实 `{fact}` 未在 facts.yaml 中定义，可用事实：{', '.join(kb.facts)}",
                "fact-unknown",
            )
            continue
        for value in values:
            if spec.type == "number":
                if not COMPARISON.match(value):
                    yield Problem(
                        path,
                        line,
                        f'{where} 中数字事实 `{fact}` 的条件 `{value}` 应写成比较式，例如 "> 7" 或 "<= 7"（加引号）',
                        "fact-value",
                    )
            elif value not in spec.values:
                yield Problem(
                    path,
                    line,
                    f"{where} 中 `{fact}` 的取值 `{value}` 不存在，可用取值：{', '.join(spec.values)}",
                    "fact-value",
                )


@reports("fact-unknown", "fact-value")
def rule_facts_known(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """`applies_when`、步骤和回复的 `when` 只能用 facts.yaml 里的事实和取值；数字事实用比较式（"> 7"）。"""
    yield from _condition_problems(
        article.applies_when, kb, article.path, article.lines.get("applies_when", 2), "applies_when"
    )
    for step in article.checklist:
        yield from _condition_problems(step.when, kb, article.path, step.line, "步骤的 when")
    for reply in article.replies:
        yield from _condition_problems(reply.when, kb, article.path, reply.line, "回复的 when")


@reports("placeholder-unknown", "placeholder-syntax")
def rule_placeholders_known(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """回复模板只能用 slots.yaml 里定义的 `{{占位符}}`（店铺资料的 `{{shop.…}}` 另见 shop-unknown），且花括号成对。"""
    for reply in article.replies:
        for name in PLACEHOLDER.findall(reply.text):
            if name not in kb.slots and shop_key(name) is None:
                yield Problem(
                    article.path,
                    src.find("{{" + name, reply.line),
                    f"回复 `{reply.id}` 中的占位符 `{{{{{name}}}}}` 未在 slots.yaml 中定义"
                    + _nearest_slot(name, kb),
                    "placeholder-unknown",
                )
        leftover = PLACEHOLDER.sub("", reply.text)
        if "{{" in leftover or "}}" in leftover:
            yield Problem(
                article.path,
                src.find("{{" if "{{" in leftover else "}}", reply.line),
                f"回复 `{reply.id}` 中有不成对的花括号：占位符写成 `{{{{order_id}}}}`",
                "placeholder-syntax",
            )


def _did_you_mean(written: str, known: Iterable[str], shown: str, otherwise: str) -> str:
    """The end of a message about a name that is not known: "，是不是 <the closest known
    name, written as `shown` writes it>？" for a typo, else `otherwise`."""
    close = difflib.get_close_matches(written, list(known), n=1)
    return f"，是不是 {shown.format(close[0])}？" if close else otherwise


def _nearest_slot(name: str, kb: KnowledgeBase) -> str:
    """是不是 {{order_id}}？ for a typo; the whole list when nothing is close."""
    listed = ", ".join("{{" + s + "}}" for s in kb.slots)
    return _did_you_mean(name, kb.slots, "`{{{{{}}}}}`", f"，可用：{listed}")


@reports("shop-unknown")
def rule_shop_references_resolve(
    article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date
):
    """回复和清单步骤里的 `{{shop.键}}` 必须是 shop.yaml（店铺资料）里有的键。"""
    texts = [(f"回复 `{r.id}`", r.text, r.line) for r in article.replies] + [
        ("步骤", s.text, s.line) for s in article.checklist
    ]
    for where, text, line in texts:
        for name in PLACEHOLDER.findall(text):
            key = shop_key(name)
            if key is None or key in kb.shop:
                continue
            hint = _did_you_mean(
                key,
                kb.shop,
                "`{{{{shop.{}}}}}`",
                f"：在 kb/shop.yaml 里加上 `{key}`，或改用已有的键",
            )
            yield Problem(
                article.path,
                src.find("{{" + name, line),
                f"{where}引用的店铺资料 `{{{{{name}}}}}` 在 shop.yaml 里没有{hint}"
                f"（已有：{', '.join(kb.shop) or '无'}）",
                "shop-unknown",
            )


# Promises a shop makes in its own numbers: a clock time (18 点前, 16:00), a span to act
# within (2 小时内), an amount of money (20 元). Written into a reply they are sent at 23:00
# and on Sundays, and differ from shop to shop: they belong in shop.yaml.
LITERAL_PROMISES = (
    (re.compile(r"\d{1,2}\s*[:：]\s*\d{2}|\d{1,2}\s*点(?:半|前|之前|以前|钟)"), "时间"),
    (re.compile(r"\d+(?:\.\d+)?\s*个?\s*(?:小时|分钟)(?:内|之内|以内)"), "时限"),
    (re.compile(r"[¥￥]\s*\d|\d+(?:\.\d+)?\s*(?:元|块)"), "金额"),
)


@reports("promise-literal")
def rule_no_literal_promises(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """回复模板里不写死时间、时限和金额的承诺（“今天 18 点前”“2 小时内”“补偿 20 元”）：店铺自己的数字用 `{{shop.键}}` 引用 shop.yaml，订单金额用 `{{amount}}`，具体时间留【】让坐席填；警告。"""
    for reply in article.replies:
        text = PLACEHOLDER.sub(" ", reply.text)
        for pattern, kind in LITERAL_PROMISES:
            found = pattern.search(text)
            if found:
                yield Problem(
                    article.path,
                    src.find(found.group(0), reply.line),
                    f"回复 `{reply.id}` 写死了{kind}「{found.group(0)}」：店铺的截单时间、"
                    "回复时限、补偿上限写成 `{{shop.键}}`（kb/shop.yaml），订单金额写 "
                    "`{{amount}}`，因单而异的留【具体时间】让坐席填",
                    "promise-literal",
                    "warning",
                )


@reports("reply-id-duplicate")
def rule_reply_ids_unique(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """同一篇文章里每条回复的 `id` 不能重复。"""
    seen: set[str] = set()
    for reply in article.replies:
        if reply.id in seen:
            yield Problem(
                article.path,
                reply.line,
                f"回复 id `{reply.id}` 重复：换一个本文内唯一的 id，例如 `{reply.id}-2`",
                "reply-id-duplicate",
            )
        seen.add(reply.id)


@reports("link-broken")
def rule_links_resolve(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """正文和步骤里的 `[[id]]` 链接必须指向存在的文章。"""
    ids = kb.by_id
    texts = [(article.body, article.lines.get("body", 2))] + [
        (s.text, s.line) for s in article.checklist
    ]
    for text, start in texts:
        for target in LINK.findall(text):
            if target.strip() not in ids:
                hint = _did_you_mean(target, ids, "[[{}]]", "：检查拼写，或先写那篇文章")
                yield Problem(
                    article.path,
                    src.find(f"[[{target}]]", start),
                    f"链接 [[{target}]] 指向不存在的文章{hint}",
                    "link-broken",
                )


@reports("specializes-unknown", "specializes-no-context")
def rule_specializes_resolves(
    article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date
):
    """`specializes` 写本文是哪篇通用流程的平台版本（拼多多换货之于通用换货）：必须是另一篇存在的文章；本文的 applies_when 要写出平台等场景条件，案例符合时本文才排到通用流程前面，没写则不起作用（警告）。"""
    target = article.specializes
    if not target:
        return
    line = article.lines.get("specializes", 2)
    if target == article.id or target not in kb.by_id:
        others = [i for i in kb.by_id if i != article.id]
        hint = _did_you_mean(target, others, "`{}`", "：写通用流程那篇文章的 id")
        what = "本文自己" if target == article.id else "不存在的文章"
        yield Problem(
            article.path,
            line,
            f"`specializes: {target}` 指向{what}{hint}",
            "specializes-unknown",
        )
    if not any(fact in kb.facts and kb.facts[fact].gate for fact in article.applies_when):
        yield Problem(
            article.path,
            line,
            "`specializes` 只在案例符合本文的场景时起作用：在 applies_when 里写出场景条件，"
            "例如 applies_when: {platform: 拼多多}",
            "specializes-no-context",
            "warning",
        )


@reports("banned-phrase")
def rule_banned_phrases(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """回复模板不能含平台处罚的说法（banned_phrases.yaml），例如好评返现、引导加微信。"""
    for reply in article.replies:
        for phrase, start in kb.banned_in(reply.text):
            # Matched ignoring case: look for the words as written (加v for 加V).
            written = reply.text[start : start + len(phrase)]
            yield Problem(
                article.path,
                src.find(written, reply.line),
                f"回复 `{reply.id}` 含违规说法「{phrase}」：{kb.banned_phrases[phrase]} 请删去或改写",
                "banned-phrase",
            )


@reports("reviewed-future", "review-overdue")
def rule_review_dates(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """`reviewed` 不能是未来日期；超过复核周期（reviewed + review_every_days）给出警告。"""
    line = article.lines.get("reviewed", 2)
    if article.reviewed > today:
        yield Problem(
            article.path,
            line,
            f"复核日期 {article.reviewed} 在未来：写实际复核的日期（今天是 {today}）",
            "reviewed-future",
        )
    elif article.review_due() < today:
        yield Problem(
            article.path,
            line,
            f"已超过复核期（应在 {article.review_due()} 前复核，负责人：{article.owner}）："
            f"复核内容后把 reviewed 改为复核当天的日期",
            "review-overdue",
            "warning",
        )


@reports("effective-range", "policy-expired", "policy-expiring")
def rule_effective_dates(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """限时政策：`effective_from` 不晚于 `effective_until`；快到期（14 天内）或已失效给出警告。"""
    start, end = article.effective_from, article.effective_until
    line = article.lines.get("effective_until", article.lines.get("effective_from", 2))
    if start and end and start > end:
        yield Problem(
            article.path,
            line,
            f"生效日期 {start} 晚于失效日期 {end}：检查这两个日期",
            "effective-range",
        )
    elif end and end < today:
        yield Problem(
            article.path,
            line,
            f"政策已于 {end} 失效，不再出现在搜索结果中：延长 effective_until，或删除这篇文章",
            "policy-expired",
            "warning",
        )
    elif end and (end - today).days <= EXPIRY_WARNING_DAYS:
        yield Problem(
            article.path,
            line,
            f"政策将于 {end} 失效（还有 {(end - today).days} 天）：需要延续就更新 effective_until",
            "policy-expiring",
            "warning",
        )


# Raw HTML that swallows what follows when left open: the sanitizer drops the content of
# style/script/template, and Markdown stops formatting after an open block-level tag (math,
# svg, div …), so a `<style>` typed in the middle of a body silently hides the rest of it.
# fmt: off
SWALLOWING_TAGS = (
    "style", "script", "template", "math", "svg", "textarea", "title", "xmp", "noscript",
    "noembed", "noframes", "iframe", "object", "div", "table", "pre", "details",
)
# fmt: on
_CODE = re.compile(r"^(```|~~~).*?^\1[^\n]*$|`[^`\n]*`", re.DOTALL | re.MULTILINE)
_TAG = re.compile(r"<(/?)(" + "|".join(SWALLOWING_TAGS) + r")(?=[\s/>])[^>]*>", re.IGNORECASE)


@reports("raw-html-unclosed")
def rule_raw_html_closed(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """正文里手写的 `<style>`、`<math>`、`<div>` 等 HTML 标签必须闭合：没闭合时其后的内容在页面上消失或不再排版。"""
    # Code spans and fences show tags as text: blank them, keeping offsets (and so lines).
    body = _CODE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), article.body)
    open_at: dict[str, list[int]] = {}
    for match in _TAG.finditer(body):
        tag = match.group(2).lower()
        if match.group(0).endswith("/>"):
            continue
        stack = open_at.setdefault(tag, [])
        if match.group(1):
            if stack:
                stack.pop()
        else:
            stack.append(match.start())
    start = article.lines.get("body", 2)
    for tag, offsets in sorted(open_at.items()):
        for offset in offsets[:1]:
            line = start + body.count("\n", 0, offset)
            yield Problem(
                article.path,
                line,
                f"`<{tag}>` 没有对应的 `</{tag}>`：从这里起文章其余部分在页面上会消失或不再排版。"
                f"补上 `</{tag}>`；要显示标签本身就写成 `&lt;{tag}&gt;` 或放进代码块",
                "raw-html-unclosed",
                "warning",
            )


# An example longer than this is more than one buyer message: it teaches the model every
# concern it mentions.
EXAMPLE_MAX_CHARS = 150
# Five digits in a row are an order, phone or tracking number: personal data, and a number no
# other case shares.
_LONG_NUMBER = re.compile(r"[0-9０-９]{5,}")


@reports("example-duplicate", "example-number", "example-long")
def rule_examples_clean(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """`examples` 是买家原话式的示例，只用来教匹配模型：同一篇里不要重复；不要带订单号、电话、单号这类长数字（写“订单号”三个字即可，长数字是个人信息，也不会在别的案例里再出现）；每条写一条消息，超过 150 字给出警告。facts.yaml 里事实的 `examples`（范围外话题的买家原话）同样检查。"""
    yield from _examples_problems(
        article.examples, article.path, src, article.lines.get("examples", 2)
    )


def _examples_problems(
    examples: tuple[str, ...], shown: str, src: SourceLines, line: int
) -> Iterator[Problem]:
    """Problems of a list of example messages that starts at `line` of a file (an article's
    `examples`, or a fact's in facts.yaml)."""
    seen: dict[str, int] = {}  # example -> its line
    for example in examples:
        # Examples are in file order: look from the previous one's line (a flow list holds
        # them all on one line), and past the first copy for a repeated one.
        line = src.find(example, seen[example] + 1 if example in seen else line)
        if example in seen:
            yield Problem(
                shown,
                line,
                f"示例「{example}」重复：删掉这一条，或换一种买家会用的说法",
                "example-duplicate",
            )
        seen.setdefault(example, line)
        number = _LONG_NUMBER.search(example)
        if number:
            yield Problem(
                shown,
                line,
                f"示例「{example}」含长数字「{number.group(0)}」：删去号码，"
                "只写“订单号”“单号”“电话”等字样",
                "example-number",
            )
        if len(example) > EXAMPLE_MAX_CHARS:
            yield Problem(
                shown,
                line,
                f"示例「{example[:20]}…」有 {len(example)} 字：每条只写买家的一条消息"
                f"（{EXAMPLE_MAX_CHARS} 字以内），多个问题分成几条",
                "example-long",
                "warning",
            )


def _fact_examples(kb: KnowledgeBase, kb_dir: Path) -> Iterator[Problem]:
    """The examples of facts.yaml (the out-of-scope topics' messages), checked as an
    article's are (rule_examples_clean, whose codes they carry)."""
    path = kb_dir / "facts.yaml"
    src = SourceLines(path)
    shown = str(path.relative_to(kb_dir.parent))
    for name, spec in kb.facts.items():
        if spec.examples:
            start = next(
                (n for n, text in enumerate(src.lines, 1) if text.startswith(f"{name}:")), 1
            )
            yield from _examples_problems(spec.examples, shown, src, start)


@reports("sources-missing")
def rule_sources_named(article: Article, kb: KnowledgeBase, src: SourceLines, today: dt.date):
    """文章要用 `sources` 写明所依据的法律法规或平台规则（例如 `sources: [消费者权益保护法 第二十五条]`），规则修订时编辑才知道要复核哪些文章；缺少时给出警告。"""
    if not article.sources:
        yield Problem(
            article.path,
            article.lines.get("sources", article.lines.get("review_every_days", 2)),
            "没有写依据：加上 `sources: [法律条文或平台规则名称, …]`，"
            "例如 `sources: [消费者权益保护法 第二十四条, 淘宝平台争议处理规则]`",
            "sources-missing",
            "warning",
        )


RULES: tuple[Rule, ...] = (
    rule_id_matches_file,
    rule_category_known,
    rule_platforms_known,
    rule_facts_known,
    rule_placeholders_known,
    rule_shop_references_resolve,
    rule_no_literal_promises,
    rule_reply_ids_unique,
    rule_links_resolve,
    rule_specializes_resolves,
    rule_banned_phrases,
    rule_review_dates,
    rule_effective_dates,
    rule_raw_html_closed,
    rule_sources_named,
    rule_examples_clean,
)


def _slug_hint(value: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return slug or "return-after-receipt"


@reports("id-duplicate")
def _duplicate_ids(kb: KnowledgeBase) -> Iterator[Problem]:
    """每篇文章的 `id` 在整个知识库里唯一。"""
    counts = Counter(a.id for a in kb.articles)
    for article in kb.articles:
        if counts[article.id] > 1:
            others = [a.path for a in kb.articles if a.id == article.id and a is not article]
            yield Problem(
                article.path,
                article.lines.get("id", 2),
                f"id `{article.id}` 重复（也在 {', '.join(others)}）：每篇文章的 id 必须唯一",
                "id-duplicate",
            )


@reports("example-shared")
def _shared_examples(kb: KnowledgeBase, sources: dict[str, SourceLines]) -> Iterator[Problem]:
    """同一条示例写进了两篇文章：它同时教匹配模型两篇都对，两篇会互相抢第一；只留在真正处理它的那篇；警告。"""
    owners: dict[str, list[Article]] = {}
    for article in kb.articles:
        for example in dict.fromkeys(article.examples):
            owners.setdefault(example, []).append(article)
    for example, articles in owners.items():
        for article in articles[1:]:
            start = article.lines.get("examples", 2)
            yield Problem(
                article.path,
                sources[article.path].find(example, start),
                f"示例「{example}」也写在 {articles[0].path}：只留在处理它的那一篇",
                "example-shared",
                "warning",
            )


def problem_codes() -> list[tuple[tuple[str, ...], str]]:
    """Every problem code `kb lint` reports, grouped by the check that reports them, with the
    check's documentation for editors: the loader's first, then the rules'."""
    return [
        *(((code,), documentation) for code, documentation in PROBLEM_CODES.items()),
        *((check.codes, check.__doc__) for check in (*RULES, _duplicate_ids, _shared_examples)),
    ]


def lint_kb(kb_dir: Path, today: dt.date | None = None) -> tuple[KnowledgeBase, list[Problem]]:
    """Load and check the knowledge base; return it with every problem found, sorted by file and line."""
    today = today or dt.date.today()
    kb, problems, drafts = load_kb_and_drafts(kb_dir)
    # An article that failed to load is still checked (drafts: what it does have), and links
    # to it from other files resolve: one missing field must not hide its other problems nor
    # turn into false errors elsewhere.
    seen = dataclasses.replace(kb, articles=kb.articles + tuple(drafts))
    root = kb_dir.parent
    # One per article, shared by all checks: each reads its file once, if a problem needs it.
    sources = {article.path: SourceLines.of(root, article) for article in seen.articles}
    problems = [
        *problems,
        *_duplicate_ids(seen),
        *_shared_examples(seen, sources),
        *_fact_examples(kb, kb_dir),
    ]
    for article in seen.articles:
        src = sources[article.path]
        for rule in RULES:
            problems.extend(
                p for p in rule(article, seen, src, today) if _about_the_file(p, article)
            )
    problems.sort(key=lambda p: (p.path, p.line, p.rule))
    return kb, problems


# The field a code is about. A draft's `lines` hold only the fields its file has right; a rule's
# problem about a stand-in (a missing id or category) was reported by the loader already.
_FIELD_OF_CODE = {
    "id-format": "id",
    "id-file": "id",
    "category-unknown": "category",
    "category-folder": "category",
    "reviewed-future": "reviewed",
    "review-overdue": "reviewed",
}


def _about_the_file(problem: Problem, article: Article) -> bool:
    field = _FIELD_OF_CODE.get(problem.rule)
    return field is None or field in article.lines


def has_errors(problems: list[Problem], strict: bool = False) -> bool:
    return any(p.level == "error" or strict for p in problems)
