"""Mask personal data in a buyer's message before it is stored: numbers, ids, names, addresses.

One pure function, `mask_personal_data`, used by the insights recorder. It keeps what editors
need to see (the wording of the problem, amounts, dates, counts, products) and drops what
identifies a buyer. Each rule errs on the side of masking a lookalike rather than keeping real
personal data, but the common lookalikes (prices, dates, 7天, 3件, 市场价, 在路上, 谢谢) are kept.
`bench/masking.py` measures what leaks, per kind, over generated sentences.
"""

from __future__ import annotations

import re

from indexer.analysis import common_words, tags_a_name

PHONE_MASK = "1**********"
ADDRESS_MASK = "[地址]"
NAME_MASK = "*"
EMAIL_MASK = "[邮箱]"
ID_MASK = "[身份证号]"
CARD_MASK = "[银行卡号]"
PLATE_MASK = "[车牌]"
ACCOUNT_MASK = "[账号]"

_HAN = "\u4e00-\u9fff"


def _words(text: str) -> list[str]:
    """Space-separated words: long vocabularies stay readable (and diffable) as text."""
    return text.split()


# --- Numbers ---------------------------------------------------------------------------------

# Mainland mobile numbers, also written 138-1234-5678, 138 1234 5678 or 138.1234.5678, with or
# without +86.
_MOBILE = re.compile(
    r"(?<![\dA-Za-z])(?:\+?86[-\s.]?)?1[3-9]\d(?P<sep>[-\s.]?)\d{4}(?P=sep)\d{4}(?![\d])"
)
# Landlines with an area code: 010-12345678, 010 12345678, (0755)1234567, 0755.1234567.
_LANDLINE = re.compile(r"(?<![\d-])(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}[-\s.])\d{7,8}(?![\d-])")
# Numbers in Chinese numerals (一三八一二三四五六七八, 幺 for 1): seven or more in a row are a
# phone or an account, never an amount (amounts carry 十/百/千/万).
_HAN_DIGITS = "零〇一二三四五六七八九幺两"
_HAN_NUMBER = re.compile(rf"[{_HAN_DIGITS}](?:[\s-]?[{_HAN_DIGITS}]){{6,}}")
# Resident ID numbers: area (6), birth date, sequence (3), check digit or X. Masked whole: the
# last characters are the part that tells people apart.
_ID_NUMBER = re.compile(
    r"(?<![\dA-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"\d{3}[\dXx](?![\dA-Za-z])"
)
# Bank cards written in groups: 6222 0212 3456 7890 123 (15 to 19 digits).
_GROUPED_CARD = re.compile(r"(?<![\d-])\d{4}(?:[\s-]\d{3,4}){2,3}(?:[\s-]\d{1,4})?(?![\d-])")
# Order, tracking and card numbers: a run of 10+ digits (dashes allowed, PDD's YYMMDD-15
# digits), or a carrier's letters followed by 8+ digits (SF…, YT…, EMS's EA123456789CN). Shorter
# numbers are amounts, counts, dates and model numbers.
_LONG_NUMBER = re.compile(
    r"(?<![\dA-Za-z])"
    r"(?:(?P<letters>[A-Za-z]{1,4})(?P<lettered>\d{8,}[A-Za-z]{0,2})"
    r"|(?P<digits>\d[\d-]{8,}\d[Xx]?))"
    r"(?![\dA-Za-z])"
)
_DIGITS_IN_NUMBER = 10
# Card networks' first digits: UnionPay 62, Visa 4, Mastercard 2221-2720 and 51-55, American
# Express 34/37, JCB 35, Diners 36/38, Discover 6011/65.
_CARD_PREFIX = re.compile(r"(?:62|4|5[1-5]|2[2-7]|3[4-8]|6011|65)")

# --- Accounts and plates ------------------------------------------------------------------------

# WeChat and QQ ids after the word that announces them (微信号 wxid_abc123, vx: abc_123, QQ 12345).
# WeChat asks for 6-20 characters, but a buyer may type an old or mistyped one (hwu25): after
# the word that announces it, 4 are enough to be theirs.
_WECHAT = re.compile(
    r"(?P<lead>(?:微信号?|威信|薇信|v信|V信|vx|VX|Vx|wx|WX|Wx|weixin|wechat|WeChat)"
    r"\s*号?\s*(?:是|为)?\s*[:：]?\s*)"
    r"(?P<id>[A-Za-z][-_A-Za-z0-9]{3,19}|\d{6,20})(?![-_A-Za-z0-9])"
)
_QQ = re.compile(
    r"(?P<lead>(?:QQ|qq|Qq|扣扣|企鹅)\s*(?:号码?)?\s*(?:是|为)?\s*[:：]?\s*)(?P<id>[1-9]\d{4,11})(?!\d)"
)
# Licence plates: a province's character, a letter, then 5 (6 for new-energy) letters or digits.
_PLATE = re.compile(
    r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领]"
    r"[A-HJ-NP-Za-hj-np-z][·•\s-]?[A-HJ-NP-Za-hj-np-z0-9]{4,5}[A-HJ-NP-Za-hj-np-z0-9挂学警港澳]?"
    r"(?![A-Za-z0-9])"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

# --- Names -----------------------------------------------------------------------------------

# The commonest surnames (together more than nine in ten people), and compound ones.
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关"
    "兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻"
    "祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿"
    "桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠"
    "惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉"
    "禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修"
    "邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴"
    "昝智幸奉植衡富尧闭由傅萧赖洪阎"
)
_COMPOUND_SURNAMES = _words(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 端木 独孤 南宫 "
    "西门 百里 呼延 轩辕 万俟 澹台 公冶 宗政 濮阳 太史 申屠 钟离 闾丘 第五"
)
# Chat and after-sales words that start like a name (马上, 单号) but are not one; the dictionary
# (indexer.analysis.common_words) knows most, these it misses or tags as names.
_NOT_NAMES = frozenset(
    _words(
        """
    谢谢 谢了 谢啦 单号 运单 包邮 包装 包裹 包装盒 申请 付款 付钱 付了 商品 商家 金额 余额 颜色 安装 方便 马上 明天 明白 时间
    时效 查询 查到 查看 查了 查下 原因 原价 原装 全部 全额 全新 成功 解决 常用 常见 黄色 白色 蓝色 黑色 红色 绿色 紫色 灰色
    粉色 金色 银色 米色 高兴 尽快 麻烦 何时 路上 都是 都有 都没 都不 都行 还有 还是 好的 那个 那边 平台 门口 门卫 应该 信息
    满意 满减 海关 花呗 宝贝 支付 元旦 有货 差评 好评 中评 邮费 一直 时候 几天 多少 东西 师傅 司机 费用 修改 阿姨 哈哈 哈哈哈
    衣服 卫衣 毛衣 毛巾 羊毛 羊绒 牛仔 牛奶 沙发 房间 钱包 周末 周一 周二 周三 周四 周五 周六 周日 韩版 位置 容量 索赔 计划
    平板 相册 项链 连衣裙 申通 关于 关注 顾客 严重 温度 安全 安心 易碎 利用 居然 干净 但是 由于 冷冻 冷藏 智能 左边 程度 任何
    范围 陆续 方法 方式 石头 夏天
    """
    )
)
# Characters that cannot start a name (what follows 收件人 when it is not a name: 收件人电话).
_AFTER_NAME = set(
    "要想的是在我你他她了过着吧呢啊吗呀，。电手地联住收寄买退换说就和与也都从到给打发让叫找已还被把"
)
# Particles: never part of a name (给钱了, 我是都要), whatever comes before them.
_PARTICLES = set("的了过着吧呢啊吗呀们您，。、！？,.!? ")
# Never in a given name: particles and negations (钱呢, 钱没到).
_NEVER_IN_NAME = _PARTICLES | set("没不")
# Units after a number (0 元补发): no name follows a number so closely.
_UNITS = set("元块角件个只双天号次年月日点岁斤克米")
_NOT_A_NAME = re.compile(
    r"^(?:电话|手机|地址|信息|姓名|名字|名称|写|填|改|不|没|了|过|着|你|他|她|它|人|我|是|号|的)"
)
# Words after which a name follows. Strong: anything that follows is a name (收件人：小明).
# Weak: common words that only sometimes introduce one (我是张伟, 给李娜打电话, 本人王芳):
# there, a name must start with a surname.
_STRONG_LEAD = (
    r"我叫|我的名字(?:是|叫)|名字(?:是|叫)|(?:收件人|收货人|联系人|姓名|(?<!客)户名|开户名|持卡人|"
    r"开户人|签收人|寄件人|发件人)(?:是|为|叫)?[:：]?\s*"
)
_WEAK_LEAD = r"我是|本人(?:是|叫)?|给|找|让|叫"
_NAME_LEAD = re.compile(
    rf"(?P<lead>{_STRONG_LEAD}|(?P<weak>{_WEAK_LEAD})\s*)(?P<name>[{_HAN}·]{{1,4}})"
)
# A run of two to four Han characters standing alone (between punctuation, spaces, digits,
# letters or the ends of the text): where a bare name is written (张伟 138…, 王芳，快递呢).
_BARE_RUN = re.compile(rf"(?<![{_HAN}])[{_HAN}]{{2,4}}(?![{_HAN}])")

# --- Addresses -------------------------------------------------------------------------------

# Two or more components in a row, each a name and a marker (广东省, 深圳市, 南山区, 科技园路)
# or a number and a marker (100号, 3栋, 502室). One component alone is kept (杭州市, 3号发货);
# so are words that merely contain a marker (市场价, 区别, 号码, 在路上).
_PLACE_CHARS = rf"[{_HAN}]"
_NOT_PLACE = "在住是的到寄发我你他从往给了把和与或还已要想送收回退换说请帮麻烦地址为就"
_PLACE_NAME = rf"(?:(?![{_NOT_PLACE}]){_PLACE_CHARS}){{2,6}}?"
_PLACE_MARK = r"(?:自治区|特别行政区|省|市|区|县|旗|镇|乡|街道|大道|路|街|巷|弄|胡同|村|小区|花园|公寓|大厦|广场|新村)"
_NUMBER_MARK = r"(?:号楼|号院|号|栋|幢|座|单元|室|楼|层)"
_NUMBER = r"[\d一二三四五六七八九十零百甲乙丙丁A-Za-z-]{1,6}"
_COMPONENT = rf"(?:{_PLACE_NAME}{_PLACE_MARK}|{_NUMBER}{_NUMBER_MARK})"
_ADDRESS = re.compile(rf"{_COMPONENT}(?:{_COMPONENT})+(?:[\d-]+(?![\d.]*[元块件天个次]))?")
# Addresses written without 省/市: a province or big city, then within a few words a road,
# building or estate marker, then what numbers follow (北京朝阳望京SOHO T1 1201, 杭州 西湖 文三路).
_REGIONS = _words(
    "北京 上海 天津 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 "
    "湖南 广东 海南 四川 贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门 "
    "广州 深圳 杭州 南京 苏州 武汉 成都 西安 长沙 郑州 济南 青岛 沈阳 大连 哈尔滨 长春 石家庄 "
    "太原 合肥 福州 厦门 南昌 昆明 贵阳 南宁 海口 三亚 兰州 西宁 银川 乌鲁木齐 拉萨 呼和浩特 "
    "宁波 温州 无锡 常州 佛山 东莞 珠海 中山 惠州 汕头 泉州 烟台 潍坊 徐州 扬州 南通 绍兴 "
    "嘉兴 金华 台州 洛阳 保定 唐山 廊坊 桂林 义乌 昆山 江门 湛江 漳州 临沂 淄博 济宁 芜湖"
)
_STREET_MARK = (
    r"(?:大道|大街|路|街|巷|弄|胡同|里|村|小区|花园|家园|公寓|大厦|广场|科技园|"
    r"SOHO|soho|Soho|号楼|号院|号|栋|幢|座|单元|室)"
)
# Characters that end an address written into a sentence (寄到北京和平路的快递: 的).
_NOT_ADDRESS = "的了在我你他她是吗呢吧要想说请到给把被还已就"
_ADDRESS_WORD = rf"(?:(?![{_NOT_ADDRESS}])[{_HAN}]|[A-Za-z0-9#-])"
_BARE_ADDRESS = re.compile(
    rf"(?:{'|'.join(sorted(_REGIONS, key=len, reverse=True))})"
    rf"(?:[ \t]*{_ADDRESS_WORD}){{0,16}}{_STREET_MARK}"
    r"(?:[ \t]*[A-Za-z0-9#-]*\d[A-Za-z0-9#-]*(?:号|室|楼|层|栋|座|单元)?)*"
)


def _mask_number(match: re.Match) -> str:
    if match.group("letters"):
        number = match.group("lettered")
        # A carrier's prefix (SF, YT, JD) says which courier, not who: keep it, mask the digits.
        return match.group("letters") + _keep_last_four(number)
    number = match.group("digits")
    digits = [ch for ch in number if ch.isdigit()]
    if len(digits) < _DIGITS_IN_NUMBER:
        return number
    if _CARD_PREFIX.match(number) and 13 <= len(digits) <= 19 and _luhn_valid(digits):
        # A card network's prefix and checksum: masked whole (an order number that happens to
        # pass both loses its last four digits, which only help a person find the order).
        return CARD_MASK
    return _keep_last_four(number)


def _luhn_valid(digits: list[str]) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _keep_last_four(number: str) -> str:
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    keep = set(digits[-4:])
    return "".join(ch if i in keep or not ch.isdigit() else "*" for i, ch in enumerate(number))


def _is_word(text: str) -> bool:
    """Whether `text` is a common word (or one of ours), not a name."""
    return text in _NOT_NAMES or text in common_words()


def _surname_length(text: str) -> int:
    """How many characters of a surname `text` starts with (0: none of the common ones)."""
    if text[:2] in _COMPOUND_SURNAMES:
        return 2
    return 1 if text[:1] in _SURNAMES else 0


def _name_length(candidate: str, rest: str) -> int:
    """How long the name at the start of `candidate` is: a surname and one or two characters.

    A third character is taken unless it starts a word with what follows (张伟打电话: 打电话).
    """
    surname = max(_surname_length(candidate), 1)
    length = surname + 1
    if length < len(candidate) and candidate[length] not in _AFTER_NAME:
        following = rest[length : length + 3]
        if not any(len(following) >= n and _is_word(following[:n]) for n in (2, 3)):
            length += 1
    return min(length, len(candidate))


def _mask_name(match: re.Match) -> str:
    name = match.group("name")
    rest = match.string[match.start("name") :]
    if _NOT_A_NAME.match(rest) or name[0] in _PARTICLES:
        return match.group(0)
    if name[0] in _AFTER_NAME and not _surname_length(name):
        return match.group(0)
    surname = _surname_length(name)
    conjunction = name[0] in "或和及与"
    if conjunction and (not surname or _NOT_A_NAME.match(rest[1:]) or _is_word(rest[1:3])):
        return match.group(0)  # 签收人或代收点, 收件人和电话: not 和欣
    weak = match.group("weak") is not None
    # 我是买家, 给个说法, 找客服: after a weak lead a name starts with a surname.
    if weak and (not surname or len(name) < 2 or name[1] in _PARTICLES):
        return match.group(0)
    length = _name_length(name, rest)
    # 收件人同意, 给平台或, 我是区域客服: a word where a name could be, unless the tagger reads
    # a name in it (黄金凤). After 收件人 or 我叫 a surname settles it (安宁, 文华).
    ambiguous = weak or not surname
    if ambiguous and surname < 2 and _is_word_not_name(name[:length]):
        return match.group(0)
    return match.group("lead") + NAME_MASK + name[length:]


def _is_word_not_name(text: str) -> bool:
    """A common word, or one and a character, that the tagger does not read as a name."""
    return (_is_word(text) or _is_word(text[:2])) and not tags_a_name(text)


def _mask_bare_name(match: re.Match) -> str:
    run = match.group(0)
    surname = _surname_length(run)
    if not surname or len(run) > surname + 2 or any(ch in _NEVER_IN_NAME for ch in run[surname:]):
        return run
    before = match.string[: match.start()].rstrip()
    if before[-1:].isdigit() and run[0] in _UNITS:  # 0 元补发, 18 元退款
        return run
    if surname == 2:  # 欧阳婷婷: a compound surname is a name whatever follows
        return NAME_MASK
    if _is_word(run) or run in _REGIONS:
        return run
    if len(run) - surname == 2 and _is_word(run[:2]) and not tags_a_name(run):
        # A word and one more character (平台券, 常见坑, 马上到) unless the tagger reads a name
        # (黄金凤). The other way round, a surname and a word, is how names look (陈建国).
        return run
    return NAME_MASK


def load_vocabularies() -> None:
    """Read what telling names from words takes (jieba's common words, its name tagger) now.

    Both are read from jieba's dictionary on first use (0.25 s of CPU, 0.7 s before they were
    read in one pass): in a serving worker's insights writer that held the GIL while requests
    waited (POST /api/assist p99 60-100 ms, bench/run.py). The server calls this in its master
    before forking, so workers share them and no request waits; after a segmenter is
    initialised, whose dictionary the tagger uses.
    """
    common_words()
    tags_a_name("张伟")


def mask_personal_data(text: str) -> str:
    """Mask personal data in a buyer's message.

    Args:
        text: the case as the agent typed or pasted it.

    Returns:
        The text with phones as 1**********, ID numbers, bank cards, WeChat/QQ ids and licence
        plates replaced by a label ([身份证号] …), other long numbers keeping their last 4
        digits, names as *, addresses as [地址], e-mail addresses as [邮箱].
    """
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _WECHAT.sub(lambda m: m.group("lead") + ACCOUNT_MASK, text)
    text = _QQ.sub(lambda m: m.group("lead") + ACCOUNT_MASK, text)
    text = _ID_NUMBER.sub(ID_MASK, text)
    text = _GROUPED_CARD.sub(CARD_MASK, text)
    text = _MOBILE.sub(PHONE_MASK, text)
    text = _LANDLINE.sub(lambda m: re.sub(r"\d", "*", m.group(0)), text)
    text = _HAN_NUMBER.sub(lambda m: "*" * len(m.group(0)), text)
    text = _LONG_NUMBER.sub(_mask_number, text)
    text = _PLATE.sub(PLATE_MASK, text)
    text = _BARE_ADDRESS.sub(ADDRESS_MASK, text)
    text = _ADDRESS.sub(ADDRESS_MASK, text)
    text = _NAME_LEAD.sub(_mask_name, text)
    return _BARE_RUN.sub(_mask_bare_name, text)
