"""Mask personal data in a buyer's message before it is stored: phones, numbers, names, addresses.

One pure function, `mask_personal_data`, used by the insights recorder. It keeps what editors
need to see (the wording of the problem, amounts, dates, counts) and drops what identifies a
buyer. Each rule errs on the side of masking a lookalike rather than keeping a real number, but
the common lookalikes (prices, dates, 7天, 3件, 市场价, 在路上) are kept.
"""

from __future__ import annotations

import re

PHONE_MASK = "1**********"
ADDRESS_MASK = "[地址]"
NAME_MASK = "*"
EMAIL_MASK = "[邮箱]"

# Mainland mobile numbers, also written 138-1234-5678 or 138 1234 5678, with or without +86.
_MOBILE = re.compile(r"(?<![\dA-Za-z])(?:\+?86[-\s]?)?1[3-9]\d(?:[-\s]?\d{4}){2}(?!\d)")
# Landlines with an area code: 010-12345678, 0755-1234567.
_LANDLINE = re.compile(r"(?<![\d-])0\d{2,3}-\d{7,8}(?![\d-])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Order, tracking and ID-card numbers: a run of 10+ digits (dashes allowed, PDD's YYMMDD-15
# digits), or a carrier's letters followed by 8+ digits (SF…, YT…, EMS's EA123456789CN). Shorter
# numbers are amounts, counts, dates and model numbers.
_LONG_NUMBER = re.compile(
    r"(?<![\dA-Za-z])"
    r"(?:(?P<letters>[A-Za-z]{1,4})(?P<lettered>\d{8,}[A-Za-z]{0,2})"
    r"|(?P<digits>\d[\d-]{8,}\d[Xx]?))"
    r"(?![\dA-Za-z])"
)
_DIGITS_IN_NUMBER = 10

# Names: what follows 我叫 / 收件人 / 收货人 / 联系人 / 姓名. A name is 2-4 Han characters, cut
# short at a character that starts the rest of the sentence (我叫张三要退货 -> 张三).
_NAME_LEAD = re.compile(
    r"(?P<lead>我叫|(?:收件人|收货人|联系人|姓名)(?:是|为|叫)?[:：]?\s*)"
    r"(?P<name>[\u4e00-\u9fff·]{1,4})"
)
# Characters that end a name: verbs and particles that follow one in a sentence.
_AFTER_NAME = set("要想的是在我你他她了过着吧呢啊吗呀，。电手地联住收寄买退换说就和与也都从到给")
# What follows 收件人 etc. when it is not a name: 收件人电话, 收件人写错了, 我叫了快递.
_NOT_A_NAME = re.compile(
    r"^(?:电话|手机|地址|信息|姓名|名字|写|填|改|不|没|了|过|着|你|他|她|它|人|我|是)"
)

# Addresses: two or more components in a row, each a name and a marker (广东省, 深圳市, 南山区,
# 科技园路) or a number and a marker (100号, 3栋, 502室). One component alone is kept (杭州市,
# 3号发货); so are words that merely contain a marker (市场价, 区别, 号码, 在路上).
_PLACE_CHARS = r"[\u4e00-\u9fff]"
_NOT_PLACE = "在住是的到寄发我你他从往给了把和与或还已要想送收回退换说请帮麻烦地址为就"
_PLACE_NAME = rf"(?:(?![{_NOT_PLACE}]){_PLACE_CHARS}){{2,6}}?"
_PLACE_MARK = r"(?:自治区|特别行政区|省|市|区|县|旗|镇|乡|街道|大道|路|街|巷|弄|胡同|村|小区|花园|公寓|大厦|广场|新村)"
_NUMBER_MARK = r"(?:号楼|号院|号|栋|幢|座|单元|室|楼|层)"
_NUMBER = r"[\d一二三四五六七八九十零百甲乙丙丁A-Za-z-]{1,6}"
_COMPONENT = rf"(?:{_PLACE_NAME}{_PLACE_MARK}|{_NUMBER}{_NUMBER_MARK})"
_ADDRESS = re.compile(rf"{_COMPONENT}(?:{_COMPONENT})+(?:[\d-]+(?![\d.]*[元块件天个次]))?")


def _mask_number(match: re.Match) -> str:
    if match.group("letters"):
        number = match.group("lettered")
        # A carrier's prefix (SF, YT, JD) says which courier, not who: keep it, mask the digits.
        return match.group("letters") + _keep_last_four(number)
    number = match.group("digits")
    if sum(ch.isdigit() for ch in number) < _DIGITS_IN_NUMBER:
        return number
    return _keep_last_four(number)


def _keep_last_four(number: str) -> str:
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    keep = set(digits[-4:])
    return "".join(ch if i in keep or not ch.isdigit() else "*" for i, ch in enumerate(number))


def _mask_name(match: re.Match) -> str:
    name = match.group("name")
    rest = match.string[match.start("name") :]
    if _NOT_A_NAME.match(rest) or name[0] in _AFTER_NAME:
        return match.group(0)
    # Two characters at least (a surname and a given name), then up to two more until a
    # character that starts the rest of the sentence.
    length = 2
    while length < len(name) and name[length] not in _AFTER_NAME:
        length += 1
    return match.group("lead") + NAME_MASK + name[length:]


def mask_personal_data(text: str) -> str:
    """Mask phone numbers, order/tracking numbers, names and addresses in a buyer's message.

    Args:
        text: the case as the agent typed or pasted it.

    Returns:
        The text with phones as 1**********, long numbers keeping their last 4 digits, names
        after 我叫/收件人 as *, addresses as [地址], e-mail addresses as [邮箱].
    """
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _MOBILE.sub(PHONE_MASK, text)
    text = _LANDLINE.sub(lambda m: re.sub(r"\d", "*", m.group(0)), text)
    text = _LONG_NUMBER.sub(_mask_number, text)
    text = _NAME_LEAD.sub(_mask_name, text)
    return _ADDRESS.sub(ADDRESS_MASK, text)
