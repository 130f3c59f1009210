"""Tokens for BM25: jieba search-mode words plus CJK character bigrams, stop words removed.

Bigrams let an abbreviated name in a question (巴宜) match the full one in a story (巴宜区).
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from typing import Any

_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[0-9a-z\u3400-\u9fff\uf900-\ufaff][0-9a-z.%\u3400-\u9fff\uf900-\ufaff]*")

# Function words and question words: they match everything and decide nothing.
STOP_WORDS = frozenset(
    """的 了 是 在 和 与 及 等 也 都 就 而 对 把 被 给 让 从 向 到 为 以 于 之 其 这 那 个 有 又
    多少 几 什么 啥 哪 哪些 哪个 哪里 哪儿 谁 怎么 怎样 如何 吗 呢 吧 啊 呀 请问 一共 总共 共
    今年 那个 这个 那次 一下 具体 主要 现在 已经 什么样 叫 叫什么 名字 是否 要 能 会 说
    the a an of in on at to for is are was were what how many much who where when which did
    do does and or by with from""".split()
)

_jieba_lock = threading.Lock()
_jieba_ready = False


def jieba_module() -> Any:
    """jieba, initialised once and quietly (its dictionary load logs to stderr)."""
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_ready = True
    return jieba


def char_bigrams(text: str) -> list[str]:
    grams: list[str] = []
    for run in _CJK_RUN.findall(text):
        grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return grams


@lru_cache(maxsize=4096)
def tokenize(text: str) -> tuple[str, ...]:
    """Words and bigrams of `text`, lower-cased, stop words and punctuation dropped."""
    jieba = jieba_module()
    lowered = text.lower()
    words = [
        w.strip()
        for w in jieba.cut_for_search(lowered)
        if _WORD.fullmatch(w.strip()) and w.strip() not in STOP_WORDS
    ]
    grams = [g for g in char_bigrams(lowered) if g not in STOP_WORDS]
    return tuple(words + grams)
