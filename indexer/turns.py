"""Split a pasted chat into speaker turns, so matching reads the buyer's words and not the agent's.

Agents paste single messages, but also stretches of a chat: `顾客：…` / `客服：…` lines, JD-style
`买家 10:21:33` headers above each message, or Qianniu exports where a nickname and a time head
each message. The agent's own words (`客服：七天无理由也可以的`) must not become the buyer's facts,
and the buyer's latest concern weighs most.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BUYER, AGENT, UNKNOWN = "buyer", "agent", "unknown"

# Role words that head a turn, and whose side they are on.
_ROLES = {
    "顾客": BUYER,
    "买家": BUYER,
    "客户": BUYER,
    "用户": BUYER,
    "消费者": BUYER,
    "会员": BUYER,
    "我": BUYER,
    "客服": AGENT,
    "卖家": AGENT,
    "商家": AGENT,
    "店家": AGENT,
    "掌柜": AGENT,
    "小二": AGENT,
    "售后": AGENT,
    "坐席": AGENT,
    "机器人": AGENT,
}
_ROLE = "|".join(sorted(_ROLES, key=len, reverse=True))
_TIME = r"(?:\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?\s*)?\d{1,2}:\d{2}(?::\d{2})?"
# `客服：…`, `【买家】…`, `[客服] …`: a role word as a label, the message on the same line. At
# the start of a line or after white space, so `退货客户：` inside a sentence is not a label.
_ROLE_LABEL = re.compile(
    rf"(?:^|(?<=\s))[【\[]?(?P<role>{_ROLE})[】\]]?\s*(?:{_TIME})?\s*[:：]\s*"
    rf"|(?:^|(?<=\s))[【\[](?P<role2>{_ROLE})[】\]]\s*"
)
# A header line: a name (a role word or a nickname) and a time, the message on the next lines
# or after a colon: `买家 10:21:33`, `tb_lily88 2026-11-30 10:21:33`, `某某旗舰店:小美(10:21)`.
_HEADER = re.compile(
    rf"^\s*(?P<name>[^\s:：()（）]{{1,40}}?(?::[^\s:：()（）]{{1,20}})?)(?:\s+|\s*[(（]\s*)(?P<time>{_TIME})\s*[)）]?\s*[:：]?\s*(?P<rest>.*)$"
)
# Nicknames that are the shop's side in exports: sub-accounts (`店铺:小美`) and shop names.
_SHOP_NAME = re.compile(r"旗舰店|专卖店|专营店|官方|客服|售后|小二|:|卖家|商家|店$")
# A nickname and a colon with no time, the message after it or on the next lines: chats copied
# from WeChat or a shop's chat window (`小王同学：衣服大了` / `某某旗舰店：亲可以的`). Without a time
# such a line could as well be the buyer's own `订单号：…` or `原因：…`, so these count as
# speakers only in a chat between two parties (_nickname_labels).
_NAME_LABEL = re.compile(r"^\s*(?P<name>[^\s:：()（），。！？,!?、]{1,20})\s*[:：]\s*(?P<rest>.*)$")
# What a buyer's own form names (`订单号：`, `收货地址：`, `售后原因：`): fields, not speakers.
_FIELD_NAME = re.compile(
    r"(?:订单|单号|编号|原因|问题|诉求|金额|价格|地址|电话|手机|姓名|名字|商品|备注|时间|日期"
    r"|链接|型号|规格|颜色|尺码|数量|说明|描述|要求|情况)$"
)


@dataclass(frozen=True)
class Turn:
    """One message of a chat and who wrote it: "buyer", "agent" or "unknown"."""

    speaker: str
    text: str


def split_turns(text: str) -> list[Turn]:
    """Split a case into turns; a case without speakers is one turn whose speaker is unknown."""
    turns: list[list] = []  # [speaker, name, [lines]]
    names: dict[str, str] = {}  # nickname -> side, decided after all headers are read
    lines = text.splitlines()
    labels = _nickname_labels(lines)
    for line in lines:
        header = _header(line)
        if not header and labels:
            label = _NAME_LABEL.match(line)
            header = label if label and label["name"] in labels else None
        if header:
            name = header["name"]
            turns.append([_role_of(name), name, [header["rest"]] if header["rest"] else []])
            names.setdefault(name, "")
            continue
        labelled = list(_ROLE_LABEL.finditer(line))
        if labelled:
            before = line[: labelled[0].start()].strip()
            if before:
                _append(turns, before)
            for i, label in enumerate(labelled):
                end = labelled[i + 1].start() if i + 1 < len(labelled) else len(line)
                role = label["role"] or label["role2"]
                turns.append([_ROLES[role], role, [line[label.end() : end].strip()]])
            continue
        _append(turns, line)
    _decide_nicknames(turns, names)
    out = [
        Turn(speaker or UNKNOWN, " ".join(t for t in lines if t.strip()).strip())
        for speaker, _, lines in turns
    ]
    out = [t for t in out if t.text]
    return out or [Turn(UNKNOWN, text.strip())]


def buyer_side(turns: list[Turn]) -> list[Turn]:
    """The turns matching reads: the buyer's, and those no speaker claims (a plain message)."""
    return [t for t in turns if t.speaker != AGENT]


def _append(turns: list[list], line: str) -> None:
    if turns:
        turns[-1][2].append(line)
    else:
        turns.append([None, "", [line]])


def _role_of(name: str) -> str | None:
    return _ROLES.get(name.strip("【】[]"))


def _header(line: str) -> re.Match | None:
    """A line that heads a message with a name and a time (_HEADER): a role word's, or a
    nickname's as _nickname_header tells it from a sentence with a time in it."""
    header = _HEADER.match(line)
    if header and (_role_of(header["name"]) or _nickname_header(header)):
        return header
    return None


def _nickname_header(header: re.Match) -> bool:
    """Whether a name-and-time line heads a message, and is not a sentence with a time in it
    ("明天 10:00 前能到吗"): the message follows on the next line or after a colon, and a
    nickname carries no sentence punctuation."""
    after_time = header.string[header.end("time") :].lstrip()
    return (not header["rest"] or after_time[:1] in (":", "：", ")", "）")) and not re.search(
        r"[，。！？,!?、]", header["name"]
    )


def _nickname_labels(lines: list[str]) -> frozenset[str]:
    """The names of `名字：` lines (_NAME_LABEL) that head turns, as in a chat going back and
    forth: someone speaks twice, and one party is known, by a role label (`顾客：`, `我：`) or a
    shop-like name (_SHOP_NAME), next to another. A buyer's own form names each field once and
    names fields (`订单号：…`, `售后原因：…`: _FIELD_NAME); a URL's `https:` or a time's `10:21`
    is no name."""
    speakers: list[str] = []  # who heads each labelled line, in order
    known: set[str] = set()  # the sides that role words or shop-like names show
    nicknames: set[str] = set()
    for line in lines:
        if role := _ROLE_LABEL.match(line):
            name = role["role"] or role["role2"]
            known.add(_ROLES[name])
        elif header := _header(line):
            name = header["name"]
            known.add(_role_of(name) or (AGENT if _SHOP_NAME.search(name) else ""))
        elif (label := _NAME_LABEL.match(line)) and _could_be_nickname(label):
            name = label["name"]
            nicknames.add(name)
            known.add(AGENT if _SHOP_NAME.search(name) else "")
        else:
            continue
        speakers.append(name)
    known.discard("")
    two_parties = len(set(speakers)) >= 2 and bool(known)
    someone_twice = len(speakers) > len(set(speakers))
    return frozenset(nicknames) if two_parties and someone_twice else frozenset()


def _could_be_nickname(label: re.Match) -> bool:
    name = label["name"]
    if name.isdigit() or label["rest"].startswith("//"):
        return False
    return bool(_SHOP_NAME.search(name)) or not _FIELD_NAME.search(name)


def _decide_nicknames(turns: list[list], names: dict[str, str]) -> None:
    """Give nickname headers a side: shop-like names are the agent; the rest, the buyer.

    With two nicknames and neither shop-like, the one who spoke first is the buyer: buyers open
    chats, and an export starts at the buyer's first message. Beside a buyer's role label
    (`买家：`) and no agent's, a nickname is the other party, the shop.
    """
    unknown = [n for n in names if _role_of(n) is None]
    if not unknown:
        return
    sides = {n: AGENT for n in unknown if _SHOP_NAME.search(n)}
    rest = [n for n in unknown if n not in sides]
    roles = {turn[0] for turn in turns if turn[0]}
    if roles == {BUYER}:
        sides.update((n, AGENT) for n in rest)
    elif len(rest) >= 2 and not sides:
        sides[rest[0]] = BUYER
        for n in rest[1:]:
            sides[n] = AGENT
    for n in rest:
        sides.setdefault(n, BUYER)
    for turn in turns:
        if turn[0] is None and turn[1] in sides:
            turn[0] = sides[turn[1]]
