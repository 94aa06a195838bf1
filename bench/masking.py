"""How much personal data survives masking: generated buyer sentences, leak rate per kind.

    .venv/bin/python bench/masking.py --sentences 10000 --seed 1

Each sentence is an after-sales complaint written for this benchmark with one piece of personal
data from Faker's zh_CN provider (names, phones, ID and card numbers, addresses) or generated
here (WeChat/QQ ids, licence plates, numbers in Chinese numerals), written the ways buyers
write them. A leak is the piece, as embedded (or its digits, for numbers), found in the masked
text. The complaint around it must come through whole: that is what editors read.
tests/test_masking.py asserts on the same sentences; `hard` kinds are measured, not asserted.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# What buyers write about, with no personal data in it (our own phrasings).
PROBLEMS = (
    "快递三天了还没到",
    "收到的杯子碎了，箱子都压扁了",
    "颜色发错了，我要的是蓝色的",
    "申请退货退款，衣服尺码不合适",
    "发票到现在还没开",
    "快递说放门口了，可是门口啥也没有",
    "保温杯不保温，想换一个",
    "羽绒服掉毛严重，要求退货",
    "运费险怎么没有赔付",
    "蓝牙耳机左耳没声音",
    "少发了一件，只收到两件",
    "退款申请提交五天了还没处理",
    "电饭煲插电没反应",
    "订单一直显示待发货",
    "想改一下收货地址",
)
HAN_DIGITS = "零一二三四五六七八九"
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
REGIONS = ("北京", "上海", "杭州", "广州", "深圳", "成都", "南京", "武汉", "西安", "苏州")


@dataclass(frozen=True)
class Sentence:
    kind: str
    text: str
    secret: str  # what must not survive
    problem: str  # what must survive


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _phone_forms(phone: str, rng: random.Random) -> str:
    a, b, c = phone[:3], phone[3:7], phone[7:]
    return rng.choice((phone, f"{a}-{b}-{c}", f"{a} {b} {c}", f"{a}.{b}.{c}", f"+86 {phone}"))


def _id_number(faker, rng: random.Random) -> str:
    ssn = faker.ssn()
    return ssn if rng.random() < 0.8 else ssn[:-1] + "X"


def _card(faker, rng: random.Random) -> str:
    number = faker.credit_card_number()
    if rng.random() < 0.5:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


def _plate(rng: random.Random) -> str:
    tail = "".join(rng.choice(PLATE_LETTERS + "0123456789") for _ in range(5))
    return rng.choice(PLATE_PROVINCES) + rng.choice(PLATE_LETTERS) + tail


def _wechat(faker, rng: random.Random) -> str:
    return rng.choice(("wxid_", "", "vip")) + faker.user_name() + str(rng.randint(10, 9999))


# kind -> (templates, make the secret). {x} is the secret, {p} the problem.
def _templates(faker, rng: random.Random) -> dict[str, tuple[tuple[str, ...], Callable[[], str]]]:
    return {
        "name_after_lead": (
            (
                "我是{x}，{p}",
                "本人{x}，{p}",
                "收件人{x}，{p}",
                "户名：{x}，{p}",
                "给{x}打电话没人接，{p}",
                "我叫{x}，{p}",
                "收货人是{x} {p}",
            ),
            faker.name,
        ),
        "bare_name": (("{x}，{p}", "{p}。{x}", "{p} —— {x}", "{x} {p}"), faker.name),
        "phone": (
            ("{p}，我的电话{x}", "{p} 联系我{x}", "手机：{x}，{p}"),
            lambda: _phone_forms(faker.phone_number(), rng),
        ),
        "phone_in_han_numerals": (
            ("{p}，电话{x}", "{p} 打我手机{x}"),
            lambda: "".join(HAN_DIGITS[int(d)] for d in faker.phone_number()),
        ),
        "landline": (
            ("{p}，座机{x}", "{p} 打这个{x}"),
            lambda: (
                rng.choice(("010", "021", "0571", "0755"))
                + rng.choice(("-", " ", ""))
                + str(rng.randint(20000000, 89999999))
            ),
        ),
        "id_number": (
            ("身份证号{x}，{p}", "{p}，实名是{x}"),
            lambda: _id_number(faker, rng),
        ),
        "bank_card": (("{p}，退到这张卡{x}", "卡号：{x} {p}"), lambda: _card(faker, rng)),
        "address": (
            ("{p}，地址是{x}", "寄到{x}，{p}", "{x} {p}"),
            lambda: faker.province() + faker.city() + faker.district() + faker.street_address(),
        ),
        "address_without_markers": (
            ("{p}，寄到{x}", "地址{x} {p}"),
            lambda: (
                rng.choice(REGIONS)
                + rng.choice(("", " "))
                + faker.district()
                + rng.choice(("", " "))
                + faker.street_name()
                + rng.choice(
                    (
                        "",
                        f"{rng.randint(1, 300)}号",
                        f" {rng.randint(1, 30)}栋{rng.randint(101, 2505)}",
                    )
                )
            ),
        ),
        "wechat": (("{p}，加我微信{x}", "{p} vx：{x}"), lambda: _wechat(faker, rng)),
        "qq": (("{p}，QQ{x}", "{p} 我的qq号是{x}"), lambda: str(rng.randint(10000, 99999999999))),
        "plate": (("{p}，送货车牌{x}", "车牌号{x}的司机说{p}"), lambda: _plate(rng)),
        # Measured, not promised: a bare name inside a run of text, with no word announcing it.
        "hard:name_inside_sentence": (("昨天{x}说{p}", "{p}，问了{x}也不知道"), faker.name),
    }


def buyer_sentences(faker, rng: random.Random, count: int) -> Iterator[Sentence]:
    """`count` sentences, kinds in turn, each with one piece of personal data."""
    templates = _templates(faker, rng)
    kinds = list(templates)
    for i in range(count):
        kind = kinds[i % len(kinds)]
        forms, make = templates[kind]
        secret = make()
        problem = rng.choice(PROBLEMS)
        text = rng.choice(forms).format(x=secret, p=problem)
        yield Sentence(kind, text, secret, problem)


def leaked(sentence: Sentence, masked: str) -> bool:
    """Whether the personal data survives in the masked text."""
    if sentence.kind.startswith("address"):
        # What locates a home: the street and what follows (the province or city alone does not).
        street = re.split(r"[省市县区]", sentence.secret)[-1].split()[-1]
        return street in masked or sentence.secret in masked
    if sentence.secret in masked:
        return True
    digits = _digits(sentence.secret)
    return len(digits) >= 5 and digits in _digits(masked)


def problem_kept(sentence: Sentence, masked: str) -> bool:
    return sentence.problem in masked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from faker import Faker

    from assist_app.masking import mask_personal_data

    faker = Faker("zh_CN")
    faker.seed_instance(args.seed)
    rng = random.Random(args.seed)
    total, leaks, damaged = Counter(), Counter(), Counter()
    started = time.perf_counter()
    for sentence in buyer_sentences(faker, rng, args.sentences):
        masked = mask_personal_data(sentence.text)
        total[sentence.kind] += 1
        leaks[sentence.kind] += leaked(sentence, masked)
        damaged[sentence.kind] += not problem_kept(sentence, masked)
    elapsed = time.perf_counter() - started
    print(
        f"{args.sentences} sentences, seed {args.seed}, {elapsed * 1000 / args.sentences:.2f} ms each"
    )
    print("| kind | sentences | leaked | leak rate | complaint damaged |")
    print("| --- | --- | --- | --- | --- |")
    for kind in total:
        rate = leaks[kind] / total[kind]
        print(f"| {kind} | {total[kind]} | {leaks[kind]} | {rate:.2%} | {damaged[kind]} |")
    promised = [k for k in total if not k.startswith("hard:")]
    n = sum(total[k] for k in promised)
    print(
        f"| all but hard: | {n} | {sum(leaks[k] for k in promised)} | "
        f"{sum(leaks[k] for k in promised) / n:.2%} | {sum(damaged[k] for k in promised)} |"
    )
    lines, changed = kb_lines_changed(mask_personal_data)
    print(f"\nKB article lines (no personal data) changed by masking: {changed} of {lines}")


def kb_lines_changed(mask: Callable[[str], str]) -> tuple[int, int]:
    """Lines of the starter KB's articles, and how many masking changes: text it should keep."""
    lines = [
        line
        for path in sorted(
            (Path(__file__).resolve().parent.parent / "kb" / "articles").rglob("*.md")
        )
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return len(lines), sum(mask(line) != line for line in lines)


if __name__ == "__main__":
    main()
