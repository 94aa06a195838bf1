"""Checks of what a request brings (JSON bodies, case text, limits, facts, request ids): each
returns the checked value or aborts with a 400 (or 413) whose message says what was expected
and what arrived."""

from __future__ import annotations

import json
import math
from typing import Any

from flask import abort, current_app, request

from assist_app.engine import get_settings
from assist_app.request_ids import REQUEST_ID, was_issued
from indexer.model import KnowledgeBase


def json_object() -> dict[str, Any]:
    """The request body as a JSON object (same_origin has checked its Content-Type)."""
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length is None and len(raw) >= limit:
        # A streamed (chunked) body is cut at the limit, not refused: Werkzeug's LimitedStream
        # raises 413 only on a read past it. Parsing the cut body would give a misleading 400.
        abort(413)
    try:
        body = json.loads(raw)
        # "\ud800" is valid JSON syntax but not text: a lone surrogate cannot be encoded again
        # (by our JSON replies, OpenCC, jieba), so it is refused here rather than failing later.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        abort(400, "请求体不是合法的 JSON：含有不成对的 Unicode 代理项（如 \\ud800）")
    except UnicodeDecodeError:
        abort(400, "请求体不是合法的 JSON：不是 UTF-8 编码")
    except json.JSONDecodeError as e:
        abort(400, f"请求体不是合法的 JSON：第 {e.lineno} 行第 {e.colno} 列有误")
    except (ValueError, RecursionError):  # a 5,000-digit number, arrays nested 1,000 deep
        abort(400, "请求体不是合法的 JSON：数字太长或嵌套太深")
    if not isinstance(body, dict):
        abort(400, f'请求体必须是 JSON 对象，例如 {{"case": "…"}}，收到的是{json_type(body)}')
    return body


def json_fields(fields: tuple[str, ...]) -> dict[str, Any]:
    """The request body as a JSON object with none but `fields` (an unknown one is a 400)."""
    body = json_object()
    unknown = [key for key in body if key not in fields]
    if unknown:
        abort(400, f"未知的字段“{unknown[0]}”，可用的字段：{'、'.join(fields)}")
    return body


def json_type(value: Any) -> str:
    """A JSON value's type in words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "布尔值"
    if isinstance(value, int | float):
        return "数字"
    return {str: "字符串", list: "数组", dict: "对象"}.get(type(value), type(value).__name__)


def case_text(value: Any, name: str) -> str:
    """A case description (or query): a non-empty string within max_case_chars."""
    if value is None:
        abort(400, f"缺少 {name}：请提供案例描述（买家消息或问题）")
    if not isinstance(value, str):
        abort(400, f"{name} 必须是字符串，收到的是{json_type(value)}")
    if not value.strip():
        abort(400, f"{name} 不能为空")
    limit = get_settings().max_case_chars
    if len(value) > limit:
        abort(413, f"{name} 太长：{len(value)} 个字符，最多 {limit} 个字符")
    return value


def result_limit(value: Any, default: int) -> int:
    """`limit`: an integer in 1..max_limit."""
    highest = get_settings().max_limit
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= highest:
        shown = json.dumps(value, ensure_ascii=False)
        abort(400, f"limit 必须是 1 到 {highest} 之间的整数，收到的是 {shown}")
    return value


def _non_negative_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value) and value >= 0
    except OverflowError:  # an integer too large for a float
        return False


def fact_overrides(value: Any, kb: KnowledgeBase) -> dict[str, str | float]:
    """Facts the agent corrected, checked against kb.facts; a null value clears an override."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        example = '{"platform": "拼多多"}'
        abort(400, f"facts 必须是 JSON 对象，例如 {example}，收到的是{json_type(value)}")
    overrides: dict[str, str | float] = {}
    for name, wanted in value.items():
        spec = kb.facts.get(name)
        if spec is None:
            known = "、".join(f"{n}（{f.label}）" for n, f in kb.facts.items())
            abort(400, f"未知的事实“{name}”，可用的事实：{known}")
        if wanted is None:
            continue
        if spec.type == "number":
            if not _non_negative_number(wanted):
                shown = json.dumps(wanted, ensure_ascii=False)
                abort(400, f"事实 {name}（{spec.label}）必须是不小于 0 的数字，收到的是 {shown}")
            overrides[name] = wanted
        else:
            if not isinstance(wanted, str) or wanted not in spec.values:
                shown = json.dumps(wanted, ensure_ascii=False).strip('"')
                choices = "、".join(spec.values)
                abort(400, f"事实 {name}（{spec.label}）没有取值“{shown}”，可选：{choices}")
            overrides[name] = wanted
    return overrides


def request_ref(value: Any, name: str, required: bool = False) -> str | None:
    """A request id as /api/assist returns them (32 hex digits), issued here or not."""
    if value is None and not required:
        return None
    if value is None:
        abort(400, f"缺少 {name}：请提供 /api/assist 返回的 request_id")
    if not isinstance(value, str) or not REQUEST_ID.match(value):
        abort(400, f"{name} 必须是 /api/assist 返回的 request_id（32 位十六进制）")
    return value


def issued(request_id: str) -> bool:
    """Whether this service made the id (assist_app.request_ids): ids cannot be invented."""
    return was_issued(current_app.secret_key.encode(), request_id)


def feedback_ref(value: Any) -> str:
    """The request_id feedback is about: one this service issued (else a 400)."""
    request_id = request_ref(value, "request_id", required=True)
    if not issued(request_id):
        abort(400, "request_id 不是本服务发出的（服务重启过或 id 有误）：请重新检索后再标记")
    return request_id


def case_ref(value: Any) -> str | None:
    """The case_id a follow-up names; None when this service did not issue it.

    Made up, or from before a restart with a new key: the console keeps working, and the
    request starts a case of its own instead of joining one that was never answered.
    """
    case_id = request_ref(value, "case_id")
    return case_id if case_id is not None and issued(case_id) else None


def chosen_rank(action: str, value: Any) -> int | None:
    """The rank a `chose` names: where the chosen procedure was in the answer, 2 or lower
    (working from the first is no choice); no other action carries one."""
    if action != "chose":
        if value is not None:
            abort(400, "只有 action 为 chose 时才能带 rank")
        return None
    most = get_settings().max_limit
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= most:
        shown = json.dumps(value, ensure_ascii=False)
        abort(
            400, f"chose 必须带 rank：所选流程在结果中的名次，2 到 {most} 的整数，收到的是 {shown}"
        )
    return value
