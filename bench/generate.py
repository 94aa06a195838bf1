"""Generate a synthetic knowledge base of N articles from the starter KB, for benchmarks.

Every synthetic article recombines real material of one starter article and its category
siblings (title, tags, keywords, checklist steps with their `when`, replies, body sentences)
with product, brand, situation, place and number variations drawn by a Zipf law from
bench/vocabulary.py. The starter articles are copied in too, so `[[links]]` resolve and the
starter evaluation cases keep their expected ids. The output lints clean and is the same for
the same --seed.

    .venv/bin/python bench/generate.py --articles 10000 --out var/bench/kb-10000
    .venv/bin/kb --kb var/bench/kb-10000 lint
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import hashlib
import itertools
import random
import re
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import vocabulary as vocab  # noqa: E402
from bench.probe import reset_owned_folder  # noqa: E402
from indexer.loader import load_kb  # noqa: E402
from indexer.model import Article, KnowledgeBase  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MARKER = ".generated-by-bench"
# Review dates are fixed (not today - n) so the same seed writes the same files on any day.
REVIEWED_ANCHOR = dt.date(2026, 11, 1)
PRODUCT_KEYS = ("class_key", "class_name", "noun", "brand", "product")
_SENTENCE_END = re.compile(r"(?<=[。！？；])")

BODY_TEMPLATES = [
    "{product}属于{class_name}，{situation}期间咨询多，处理前先核对{check}。",
    "买家常说“{noun}{problem}”，先请买家提供{evidence}和{evidence2}，再按本流程处理。",
    "{brand}的{noun}由{owner}负责复核，政策有变化以{owner}的最新通知为准。",
    "发往{place}的{noun}一般 {days} 天内送达，{situation}时可能延长到 {days2} 天。",
    "{noun}单价较高（常见 {amount} 元左右），退款或补发前务必核对{check}和{check2}。",
    "买家是{situation}购买的{product}，在订单备注里写明活动名称，方便财务对账。",
    "近 {days} 天内同一款{noun}反馈“{problem}”超过 {count} 次的，汇总给{owner}排查批次。",
    "{courier}承运的{noun}，理赔按{courier}的规则，一般要求签收后 {hours} 小时内报备。",
    "{noun}的{check}是判断能否退换的关键，缺少时先和买家确认，不要直接拒绝。",
    "{situation}的{noun}订单，回复里不承诺具体到账时间，以平台显示为准。",
    "{place}仓发出的{product}，出库前会拍{evidence}留档，有争议时可以调取。",
    "{noun}出现{problem}和{problem2}的比例在{situation}后明显上升，接待时要主动询问。",
    "同一买家 {days} 天内第二次反馈{noun}{problem}的，升级给组长处理，不要反复让买家拍照。",
    "{brand}{noun}的{spec}库存紧张，换货前先查库存，没货时提供退款或换{spec2}。",
]
STEP_TEMPLATES = [
    "核对{product}的{check}，并请买家补充{evidence}。",
    "{noun}反馈“{problem}”的，先远程指导买家排查，仍无法解决再按本流程处理。",
    "在 ERP 备注里记下{noun}的规格（{spec}）和购买场景（{situation}），便于后续统计。",
    "{situation}订单先确认活动规则：赠品、满减和优惠券按实际分摊金额计算。",
    "请买家拍{evidence}，重点看{check}，{hours} 小时内给出处理意见。",
    "发往{place}的{noun}改走{courier}时，提前告知买家时效变化。",
]
PLATFORM_STEP = "{platform}：{noun}订单按{platform}的售后规则处理，处理时限以后台显示为准。"
REASON_STEPS = {
    "质量问题": "{noun}确认是{problem}的，按质量问题处理，来回运费由我们承担。",
    "破损": "{noun}运输破损的，不要求寄回，按买家选择补发或退款，再向{courier}追偿。",
    "尺码不合适": "{noun}换{spec}前先查库存，库存不足时提前告知买家等待时间。",
    "七天无理由": "{noun}无理由退货要求{check}完好，寄回运费按运费险规则处理。",
    "降价": "{noun}在{situation}降价的，按价保规则计算差价，差价 {amount} 元以内可直接退。",
}
REPLY_EXTRAS = [
    "这款{product}我已经帮您备注好了，后续有问题随时找我～",
    "麻烦您拍一下{noun}的{check}发我，我帮您加急处理。",
    "{noun}这边我们会跟进到底，给您添麻烦了。",
]
KEYWORD_TEMPLATES = [
    "{noun}{problem}怎么办",
    "{noun}{problem}能退吗",
    "{brand}{noun}{problem}",
    "刚收到的{noun}{problem}",
    "{noun}可以换{spec}吗",
    "{situation}买的{noun}",
    "{noun}{base_keyword}",
]
TITLE_TEMPLATES = [
    "{title}（{product}）",
    "{class_name}·{title}",
    "{brand}{noun}｜{title}",
    "{situation}期间：{title}",
    "{noun}{title}",
]
CASE_VARIANTS = [
    "买的{product} {case}",
    "{case}（{noun}）",
    "{situation}买的{noun}，{case}",
    "{prefix}{case}{suffix}",
    "{case} 订单{order_id}",
]
SYNTHETIC_CASE = "{prefix}{product}{keyword}{suffix}"


class Zipf:
    """Draw items by a Zipf law over a seed-shuffled rank order: the head is common, the tail rare."""

    def __init__(self, items, rng: random.Random, s: float = 1.0):
        self.items = list(items)
        rng.shuffle(self.items)
        self.cumulative = list(
            itertools.accumulate(1 / (rank + 1) ** s for rank in range(len(self.items)))
        )
        self.rng = rng

    def __call__(self):
        x = self.rng.random() * self.cumulative[-1]
        return self.items[bisect.bisect(self.cumulative, x)]


class Generator:
    """Writes synthetic articles (and cases) from the starter KB, deterministically per seed."""

    def __init__(self, starter: KnowledgeBase, seed: int):
        self.rng = random.Random(seed)
        self.starter = starter
        self.by_category: dict[str, list[Article]] = defaultdict(list)
        for article in starter.articles:
            self.by_category[article.category].append(article)
        rng = self.rng

        def per_class(field: str) -> dict[str, Zipf]:
            return {k: Zipf(c[field], rng) for k, c in vocab.PRODUCT_CLASSES.items()}

        self.classes = Zipf(vocab.PRODUCT_CLASSES, rng, s=0.7)
        self.nouns = per_class("nouns")
        self.modifiers = per_class("modifiers")
        self.specs = per_class("specs")
        self.problems = per_class("problems")
        self.checks = per_class("checks")
        brands = [h + t for h in vocab.BRAND_HEADS for t in vocab.BRAND_TAILS if h != t]
        self.brands = Zipf(brands + vocab.LATIN_BRANDS, rng, 1.05)
        self.situations = Zipf(vocab.SITUATIONS, rng, 1.0)
        self.places = Zipf(vocab.PLACES, rng, 1.0)
        self.owners = Zipf(vocab.OWNERS, rng, 1.2)
        self.evidence = Zipf(vocab.EVIDENCE, rng, 0.8)
        courier = starter.slots.get("courier")
        self.couriers = Zipf(courier.values if courier and courier.values else ["顺丰"], rng)
        platform = starter.facts.get("platform")
        self.platforms = list(platform.values) if platform else []
        self.platform_pick = Zipf(self.platforms, rng, 0.8) if self.platforms else None
        reason = starter.facts.get("reason")
        self.reasons = [r for r in REASON_STEPS if reason and r in reason.values]
        self.all_keywords = [k for a in starter.articles for k in a.keywords]
        self.generated: dict[str, list[str]] = defaultdict(list)  # base id -> synthetic ids

    # --- words -------------------------------------------------------------------------------

    def product(self) -> dict[str, str]:
        """One product: its class, noun, brand and the phrase a title or a buyer uses for it."""
        rng = self.rng
        key = self.classes()
        noun = self.nouns[key]()
        brand = self.brands()
        modifier = self.modifiers[key]() if rng.random() < 0.6 else ""
        product = f"{brand if rng.random() < 0.7 else ''}{modifier}{noun}"
        if rng.random() < 0.3:
            product += f" {self.specs[key]()}"
        return {
            "class_key": key,
            "class_name": vocab.PRODUCT_CLASSES[key]["name"],
            "noun": noun,
            "brand": brand,
            "product": product,
        }

    def words(self, product: dict[str, str] | None = None) -> dict[str, str]:
        """One draw of every placeholder the templates use, around a product (a new one if None).

        `product` may be an earlier draw: its product is kept and every other word drawn anew.
        """
        rng = self.rng
        product = {k: product[k] for k in PRODUCT_KEYS} if product else self.product()
        key = product["class_key"]
        check, problem, evidence = self.checks[key](), self.problems[key](), self.evidence()
        days = rng.choice([1, 2, 3, 3, 5, 7, 7, 10, 15, 30])
        amount = (
            rng.choice(
                [9.9, 19, 29, 39, 59, 69, 99, 129, 199, 299, 399, 599, 899, 1299, 1999, 2999, 4999]
            )
            if rng.random() < 0.5
            else rng.randint(5, 3000)
        )
        return {
            **product,
            "spec": self.specs[key](),
            "spec2": self.specs[key](),
            "problem": problem,
            "problem2": self._other(self.problems[key], problem),
            "check": check,
            "check2": self._other(self.checks[key], check),
            "situation": self.situations(),
            "place": self.places(),
            "owner": self.owners(),
            "evidence": evidence,
            "evidence2": self._other(self.evidence, evidence),
            "courier": self.couriers(),
            "days": str(days),
            "days2": str(days + rng.choice([2, 3, 5, 7])),
            "hours": str(rng.choice([2, 4, 12, 24, 24, 48, 72])),
            "amount": str(amount),
            "count": str(rng.randint(2, 20)),
            "platform": self.platform_pick() if self.platform_pick else "",
            "order_id": str(rng.randint(10**17, 10**19 - 1)),
            "prefix": rng.choice(vocab.CHAT_PREFIXES),
            "suffix": rng.choice(vocab.CHAT_SUFFIXES),
        }

    @staticmethod
    def _other(draw: Zipf, taken: str) -> str:
        """A second draw that differs from the first (“核对吊牌和吊牌” reads wrong)."""
        for _ in range(5):
            word = draw()
            if word != taken:
                return word
        return next((w for w in draw.items if w != taken), taken)

    # --- one article -------------------------------------------------------------------------

    def article(self, number: int) -> dict:
        """Front matter and body of one synthetic article, as plain data."""
        rng = self.rng
        base = rng.choice(self.starter.articles)
        siblings = [a for a in self.by_category[base.category] if a is not base] or [base]
        product = self.product()
        w = self.words(product)
        article_id = f"{base.id}-{w['class_key']}-{number:05d}"

        title = rng.choice(TITLE_TEMPLATES).format(title=base.title, **w)
        tags = rng.sample(base.tags, k=min(len(base.tags), rng.randint(2, 4)))
        tags += [w["noun"], w["class_name"]] + ([w["situation"]] if rng.random() < 0.4 else [])
        keywords = rng.sample(base.keywords, k=min(len(base.keywords), rng.randint(3, 6)))
        sibling = rng.choice(siblings)
        keywords += rng.sample(sibling.keywords, k=min(len(sibling.keywords), rng.randint(0, 2)))
        for _ in range(rng.randint(3, 6)):
            keywords.append(
                rng.choice(KEYWORD_TEMPLATES).format(
                    base_keyword=rng.choice(base.keywords or self.all_keywords), **self.words(w)
                )
            )

        front: dict = {
            "id": article_id,
            "title": title,
            "category": base.category,
            "tags": list(dict.fromkeys(tags)),
        }
        platforms = self._platforms(base)
        if platforms:
            front["platforms"] = platforms
        front["keywords"] = list(dict.fromkeys(keywords))
        front["owner"] = w["owner"] if rng.random() < 0.5 else base.owner
        front["reviewed"] = REVIEWED_ANCHOR - dt.timedelta(days=rng.randint(0, 120))
        front["review_every_days"] = rng.choice([365, 730])
        if base.effective_from:
            front["effective_from"] = base.effective_from
        if base.effective_until:
            front["effective_until"] = base.effective_until
        if base.applies_when:
            front["applies_when"] = _flow(base.applies_when)
        front["checklist"] = self._checklist(base, siblings, w)
        front["replies"] = self._replies(base, siblings, w)
        body = self._body(base, siblings, w)
        examples = rng.sample(base.examples, k=min(len(base.examples), rng.randint(5, 15)))
        if examples:
            # Each names the article's product, as a buyer's message would.
            front["examples"] = [f"{e} {w['noun']}" for e in examples]
        self.generated[base.id].append(article_id)
        return {"front": front, "body": body, "product": product}

    def _platforms(self, base: Article) -> list[str]:
        rng = self.rng
        if base.platforms and (rng.random() < 0.7 or "platform" in base.applies_when):
            return list(base.platforms)
        if self.platforms and rng.random() < 0.3:
            return sorted(rng.sample(self.platforms, k=rng.randint(1, 4)), key=self.platforms.index)
        return []

    def _checklist(self, base: Article, siblings: list[Article], w: dict) -> list:
        rng = self.rng
        steps = [base.checklist[0]] + [s for s in base.checklist[1:] if rng.random() < 0.8]
        borrowed = rng.choice(siblings).checklist
        for step in rng.sample(borrowed, k=min(len(borrowed), rng.randint(0, 2))):
            steps.insert(rng.randint(1, len(steps)), step)
        out = [s.text if not s.when else {"text": s.text, "when": _flow(s.when)} for s in steps]
        for _ in range(rng.randint(1, 2)):
            out.insert(rng.randint(1, len(out)), rng.choice(STEP_TEMPLATES).format(**self.words(w)))
        if w["platform"] and rng.random() < 0.4:
            out.append({"text": PLATFORM_STEP.format(**w), "when": {"platform": w["platform"]}})
        reason = rng.choice(list(REASON_STEPS))
        if rng.random() < 0.4 and reason in self.reasons:
            out.insert(
                rng.randint(1, len(out)),
                {"text": REASON_STEPS[reason].format(**w), "when": {"reason": reason}},
            )
        return out

    def _replies(self, base: Article, siblings: list[Article], w: dict) -> list[dict]:
        rng = self.rng
        replies = list(base.replies)
        if rng.random() < 0.3:
            replies.append(rng.choice(rng.choice(siblings).replies))
        out, seen = [], set()
        for reply in replies:
            reply_id, copy = reply.id, 1
            while reply_id in seen:  # a sibling's reply may share an id with the base's
                copy += 1
                reply_id = f"{reply.id}-{copy}"
            seen.add(reply_id)
            text = reply.text
            if rng.random() < 0.5:
                extra = rng.choice(REPLY_EXTRAS).format(**w)
                lines = text.split("\n")
                lines.insert(max(1, len(lines) - 1), extra)
                text = "\n".join(lines)
            item = {"id": reply_id, "title": reply.title, "text": text}
            if reply.when:
                item["when"] = _flow(reply.when)
            out.append(item)
        return out

    def _body(self, base: Article, siblings: list[Article], w: dict) -> str:
        rng = self.rng
        blocks = _blocks(base.body)
        sibling_blocks = [b for b in _blocks(rng.choice(siblings).body) if not b.startswith("#")]
        if sibling_blocks and rng.random() < 0.5:
            blocks.insert(rng.randint(1, len(blocks)), rng.choice(sibling_blocks))
        out = []
        for block in blocks:
            if block.startswith("#"):
                out.append(block)
                continue
            bullet = block.startswith("- ")
            sentences = [s for s in _SENTENCE_END.split(block.removeprefix("- ")) if s.strip()]
            if len(sentences) > 2 and rng.random() < 0.4:
                i = rng.randrange(len(sentences) - 1)
                sentences[i], sentences[i + 1] = sentences[i + 1], sentences[i]
            if len(sentences) > 2 and rng.random() < 0.3:
                sentences.pop(rng.randrange(1, len(sentences)))
            out.append(("- " if bullet else "") + "".join(sentences).strip())
        heading = rng.choice(
            [
                "## {noun}的注意事项",
                "## {class_name}补充说明",
                "## {situation}期间",
                "## 常见问题：{noun}",
            ]
        ).format(**w)
        extra = [
            rng.choice(BODY_TEMPLATES).format(**self.words(w)) for _ in range(rng.randint(2, 5))
        ]
        out += [heading, "".join(extra)]
        related = self.generated.get(base.id)
        if related and rng.random() < 0.4:
            out.append(f"同类情况另见 [[{rng.choice(related)}]]。")
        return _join_blocks(out)

    # --- cases -------------------------------------------------------------------------------

    def cases(self, starter_cases: list[dict], synthetic: list[dict], count: int) -> list[dict]:
        """Starter cases as they are, one variation of each, then cases for synthetic articles."""
        rng = self.rng
        out = [dict(c) for c in starter_cases]
        for case in starter_cases:
            text = rng.choice(CASE_VARIANTS).format(case=case["case"], **self.words())
            out.append({"case": text, "expected": list(case["expected"])})
        for article in rng.sample(synthetic, k=min(len(synthetic), max(0, count - len(out)))):
            front = article["front"]
            w = self.words(article["product"])
            text = SYNTHETIC_CASE.format(keyword=rng.choice(front["keywords"]), **w)
            out.append({"case": text, "expected": [front["id"]]})
        return out


def _flow(when: dict[str, list[str]]) -> dict:
    """A condition as an editor writes it: a single value without list brackets."""
    return {k: v[0] if len(v) == 1 else list(v) for k, v in when.items()}


def _blocks(body: str) -> list[str]:
    """A Markdown body as headings, paragraphs and bullet items."""
    blocks = []
    for chunk in re.split(r"\n\s*\n", body.strip()):
        lines = chunk.split("\n")
        if all(line.startswith("- ") for line in lines):
            blocks += lines
        else:
            blocks.append(chunk.strip())
    return blocks


def _join_blocks(blocks: list[str]) -> str:
    """Blocks back into Markdown: consecutive bullet items stay one list."""
    text = blocks[0]
    for previous, block in itertools.pairwise(blocks):
        both_bullets = previous.startswith("- ") and block.startswith("- ")
        text += ("\n" if both_bullets else "\n\n") + block
    return text


class _Dumper(yaml.SafeDumper):
    """Block scalars for multi-line text, like the starter articles' replies."""


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def article_text(front: dict, body: str) -> str:
    """The article file: YAML front matter between --- lines, then the Markdown body."""
    header = yaml.dump(front, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{header}---\n{body}\n"


def generate(starter_dir: Path, out: Path, articles: int, seed: int, cases: int) -> dict:
    """Write a KB of `articles` articles (the starter's plus synthetic ones) and its cases file."""
    starter, problems = load_kb(starter_dir)
    if any(p.level == "error" for p in problems):
        raise SystemExit(f"{starter_dir}: the starter KB has lint errors; fix them first")
    if articles < len(starter.articles):
        raise SystemExit(f"--articles must be at least {len(starter.articles)} (the starter KB)")
    reset_owned_folder(out, MARKER, "bench/generate.py")
    for path in sorted(starter_dir.glob("*.yaml")) + sorted(starter_dir.glob("*.txt")):
        shutil.copy2(path, out / path.name)
    for article in starter.articles:
        source = starter_dir.parent / article.path
        target = out / "articles" / article.category / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)

    generator = Generator(starter, seed)
    synthetic = []
    chars = 0
    for number in range(1, articles - len(starter.articles) + 1):
        item = generator.article(number)
        text = article_text(item["front"], item["body"])
        path = out / "articles" / item["front"]["category"] / f"{item['front']['id']}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        chars += len(text)
        synthetic.append(item)

    starter_cases = []
    for name in ("cases.yaml", "holdout.yaml"):
        path = starter_dir / "eval" / name
        if path.exists():
            starter_cases += yaml.safe_load(path.read_text(encoding="utf-8"))
    case_list = generator.cases(starter_cases, synthetic, cases)
    (out / "eval").mkdir(exist_ok=True)
    # No thresholds.yaml beside it: `kb eval` reports metrics on this set without failing.
    (out / "eval" / "cases.yaml").write_text(
        "# Benchmark cases: the starter evaluation cases, a variation of each, and cases written\n"
        "# from synthetic articles' keywords. Generated by bench/generate.py.\n"
        + yaml.safe_dump(case_list, allow_unicode=True, sort_keys=False, width=1000),
        encoding="utf-8",
    )
    (out / MARKER).write_text(marker_text(starter_dir, articles, seed), encoding="utf-8")
    return {
        "articles": articles,
        "synthetic": len(synthetic),
        "cases": len(case_list),
        "synthetic_chars": chars,
    }


def marker_text(starter_dir: Path, articles: int, seed: int) -> str:
    """What the output's marker file says: size, seed, and a hash of the starter KB and generator.

    bench/run.py reuses a generated KB only when its marker matches, so an edited starter KB or
    generator (or another size or seed) is generated again.
    """
    digest = hashlib.sha256()
    sources = sorted(p for p in starter_dir.rglob("*") if p.is_file())
    for path in [*sources, Path(__file__), Path(vocab.__file__)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"articles={articles} seed={seed} sources={digest.hexdigest()[:12]}\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--articles",
        "-n",
        type=int,
        required=True,
        help="articles in the generated KB, starter articles included",
    )
    parser.add_argument("--out", type=Path, required=True, help="output KB folder")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--cases",
        type=int,
        default=1000,
        help="size of eval/cases.yaml (at least the starter cases and a variation of each)",
    )
    parser.add_argument("--kb", type=Path, default=PROJECT_ROOT / "kb", help="starter KB")
    args = parser.parse_args(argv)
    summary = generate(args.kb, args.out, args.articles, args.seed, args.cases)
    print(
        f"{args.out}: {summary['articles']} articles ({summary['synthetic']} synthetic, "
        f"{summary['synthetic_chars'] / max(1, summary['synthetic']):.0f} chars each), "
        f"{summary['cases']} cases"
    )


if __name__ == "__main__":
    main()
