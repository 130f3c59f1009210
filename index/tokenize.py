"""Tokens for BM25: jieba search-mode words plus CJK character bigrams, stop words removed.

Bigrams let an abbreviated name in a question (巴宜) match the full one in a story (巴宜区).
Runs of plain Chinese characters are cut by rjieba (jieba-rs, the same dictionary and
algorithm, about ten times faster); anything else goes to jieba itself, because the two
differ on Latin and digits. The words are identical to jieba's (tests/test_tokenize.py).
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
# jieba's own blocks (its `re_han_default`) and the ones made of Chinese characters only.
_JIEBA_BLOCK = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+)")
_PLAIN_HAN = re.compile(r"[\u4E00-\u9FD5]+")


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


def _rjieba() -> Any:
    try:
        import rjieba
    except ImportError:  # pragma: no cover - an install without the wheel: jieba does it all
        return None
    return rjieba


def cut_for_search(text: str) -> list[str]:
    """`jieba.cut_for_search(text)`, word for word, cut faster: jieba cuts each of its blocks
    on its own, so plain Chinese blocks may go to rjieba."""
    jieba = jieba_module()
    fast = _rjieba()
    if fast is None:
        return list(jieba.cut_for_search(text))
    words: list[str] = []
    for block in _JIEBA_BLOCK.split(text):
        if not block:
            continue
        if _PLAIN_HAN.fullmatch(block):
            words.extend(fast.cut_for_search(block, True))
        else:
            words.extend(jieba.cut_for_search(block))
    return words


def cut_words(run: str) -> list[str]:
    """`jieba.lcut(run)` for a run of CJK characters, by rjieba where jieba would not differ."""
    fast = _rjieba()
    if fast is not None and _PLAIN_HAN.fullmatch(run):
        words: list[str] = fast.cut(run, True)
        return words
    lcut: list[str] = jieba_module().lcut(run)
    return lcut


def text_tokens(text: str) -> tuple[str, ...]:
    """Words and bigrams of `text`, lower-cased, stop words and punctuation dropped."""
    lowered = text.lower()
    words = [
        w.strip()
        for w in cut_for_search(lowered)
        if _WORD.fullmatch(w.strip()) and w.strip() not in STOP_WORDS
    ]
    grams = [g for g in char_bigrams(lowered) if g not in STOP_WORDS]
    return tuple(words + grams)


@lru_cache(maxsize=4096)
def tokenize(text: str) -> tuple[str, ...]:
    """`text_tokens`, remembered for repeated questions (builds call `text_tokens`)."""
    return text_tokens(text)
