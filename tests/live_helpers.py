"""Helpers for tests of the service as it runs: `kb serve` (gunicorn) and `kb index` as real
processes, raw HTTP with timeouts, and a KB made bigger with generated articles.

Requests go through http.client, which sends a path exactly as given (no `..` folding, no
re-quoting), with a timeout on every request: a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from web_helpers import Response

KB_COMMAND = Path(sys.executable).parent / "kb"
HTTP_TIMEOUT = 30  # seconds; the first request in a worker loads the index (about a second)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(
    base: str,
    method: str,
    path: str,
    body: bytes | Iterable[bytes] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = HTTP_TIMEOUT,
) -> Response:
    """One HTTP request on a fresh connection; `path` goes on the request line as it is.

    A body given as an iterable of chunks is sent with Transfer-Encoding: chunked.
    """
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        chunked = body is not None and not isinstance(body, bytes)
        connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        response = connection.getresponse()
        return Response(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


def raw_exchange(base: str, data: bytes, timeout: float = HTTP_TIMEOUT) -> bytes:
    """Send bytes as they are (a malformed request), close our side, return what came back.

    Like a browser, it reads an answer that comes before the whole body was sent: a server
    that refuses a big body answers and closes without reading the rest, so the send may fail
    (EPIPE) while the answer is already waiting.
    """
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # EPIPE, ECONNRESET, ENOTCONN: answered already?
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def parse_reply(raw: bytes) -> Response:
    """A raw HTTP/1.1 answer (from raw_exchange) as a Response; the body as sent (not chunked)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Response(int(status_line.split()[1]), headers, body)


def chunked(body: bytes, size: int = 65536) -> bytes:
    """A body in Transfer-Encoding: chunked framing."""
    pieces = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(pieces) + b"0\r\n\r\n"


def post_json(base: str, path: str, payload: Any, timeout: float = HTTP_TIMEOUT) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return request(base, "POST", path, body, {"Content-Type": "application/json"}, timeout)


def assist(base: str, case: str, **fields: Any) -> Response:
    return post_json(base, "/api/assist", {"case": case, **fields})


def run_kb(*args: str | Path, timeout: float = 180, env: dict | None = None):
    """Run the installed `kb` command as a real subprocess; its CompletedProcess."""
    return subprocess.run(
        [str(KB_COMMAND), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


class KbServer:
    """A running `kb serve` (gunicorn master and threaded workers) with its output in a log file."""

    def __init__(
        self,
        kb_dir: Path,
        index_root: Path,
        log_path: Path,
        workers: int = 2,
        extra: tuple[str, ...] = (),
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.workers = workers
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [
                str(KB_COMMAND),
                "--kb",
                str(kb_dir),
                "--index",
                str(index_root),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                *extra,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, seconds: float = 90) -> None:
        """Wait until /readyz answers 200 and every worker has booted."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"kb serve exited early:\n{self.log()}"
            with contextlib.suppress(OSError):
                if (
                    request(self.url, "GET", "/readyz", timeout=10).status == 200
                    and len(self.worker_pids()) == self.workers
                ):
                    return
            time.sleep(0.2)
        raise AssertionError(f"{self.url} not ready after {seconds} s:\n{self.log()}")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the children of the master (the `kb serve` process)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    @contextlib.contextmanager
    def only_worker(self, pid: int) -> Iterator[None]:
        """Stop every other worker (SIGSTOP) for the block, so `pid` accepts every connection.

        Workers each accept from the shared listening socket; a stopped one accepts
        nothing, so this is how a test talks to one chosen worker. They resume afterwards
        (well within gunicorn's 60 s worker timeout).
        """
        others = [p for p in self.worker_pids() if p != pid]
        for other in others:
            os.kill(other, signal.SIGSTOP)
        try:
            yield
        finally:
            for other in others:
                os.kill(other, signal.SIGCONT)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            for pid in self.worker_pids():  # none may stay stopped, or SIGTERM waits on it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


@contextlib.contextmanager
def kb_server(
    kb_dir: Path, index_root: Path, log_path: Path, workers: int = 2, extra: tuple[str, ...] = ()
) -> Iterator[KbServer]:
    """`kb serve` (with `extra` options) over an existing index on a free loopback port,
    stopped after the block."""
    server = KbServer(kb_dir, index_root, log_path, workers, extra)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


# --- A bigger KB: generated articles that lint clean ---

# Words of the generated articles, and the products they are about.
_WORD_TEXT = (
    "退款 退货 换货 物流 快递 签收 破损 质量 尺码 颜色 发票 运费 仓库 补发 售后 客服 订单 包裹 "
    "商品 买家 卖家 平台 申请 审核 凭证 照片 视频 地址 电话 驿站 门卫 理赔 保价 价保 差价 优惠 "
    "积分 赠品 配件 说明书 包装 标签 吊牌 批次 库存 型号 规格 颜色 材质 面料 电池 屏幕 充电器 耳机 "
    "鞋子 外套 裤子 被子 枕头 水杯 锅具 奶粉 纸尿裤 化妆品 口红 面霜 洗发水 零食 茶叶 坚果 水果 生鲜 "
    "冷链 冰袋 泡沫箱 加急 延迟 中转 派送 揽收 拒收 拦截 改址 催单 投诉 介入"
)
_PRODUCT_TEXT = (
    "保温杯 蓝牙耳机 羽绒服 运动鞋 电饭煲 空气炸锅 婴儿车 行李箱 台灯 机械键盘 "
    "面膜 咖啡豆 猫粮 狗绳 瑜伽垫 登山包 电动牙刷 吹风机 收纳箱 床单"
)
_WORDS = _WORD_TEXT.split()
_PRODUCTS = _PRODUCT_TEXT.split()


def generated_article(index: int, rng: random.Random) -> tuple[str, str]:
    """A valid article (path under articles/, text) about one product, ~1,000 characters."""
    product = rng.choice(_PRODUCTS)
    article_id = f"generated-{index:04d}"

    def sentence() -> str:
        words = rng.sample(_WORDS, 6)
        return f"{product}的{words[0]}和{words[1]}问题，先核对{words[2]}，再按{words[3]}处理，记录{words[4]}与{words[5]}。"

    body = "\n\n".join("".join(sentence() for _ in range(5)) for _ in range(6))
    text = f"""---
id: {article_id}
title: {product}售后处理第{index}号：{rng.choice(_WORDS)}与{rng.choice(_WORDS)}
category: returns-refunds
tags: [{product}, {rng.choice(_WORDS)}]
keywords:
  - {product}{rng.choice(_WORDS)}了怎么办
  - {rng.choice(_WORDS)}{product}
owner: 测试生成组
reviewed: 2026-01-01
review_every_days: 3650
checklist:
  - {sentence()}
  - text: {sentence()}
    when: {{platform: 拼多多}}
replies:
  - id: reply-{index}
    title: 回复买家
    text: 亲，订单 {{{{order_id}}}} 的{product}我们已经在处理了，请您稍等。
---
{body}
"""
    return f"returns-refunds/{article_id}.md", text


def add_generated_articles(kb_dir: Path, count: int, seed: int = 7) -> None:
    """Add `count` generated articles to a KB copy (same seed, same files)."""
    rng = random.Random(seed)
    for index in range(count):
        relative, text = generated_article(index, rng)
        path = kb_dir / "articles" / relative
        path.write_text(text, encoding="utf-8")
