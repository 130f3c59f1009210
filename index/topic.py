"""Does a question name a topic of its own, or lean on the previous exchange?

"建了几个" or "他们捐了多少钱的药" name nothing that singles out a story: question words,
verbs, and nouns that many of the corpus's articles use. "白朗县…" or "入党申请书…" do. The
decision is measured on the corpus itself (how many articles use a noun), not on a word list:
proper names (places, people, organisations) always name a topic; other nouns name one only
when few articles use them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from index.question import content_segments, is_english, normalize_question, tag_words

# A noun used by at most this share of the articles singles out a story (measured on the
# follow-up set tests/data/followups.jsonl: see README "Conversation").
SPECIFIC_SHARE = 0.05
# Proper names in jieba's tag set: person, place, organisation, other proper noun, latin.
NAME_FLAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz", "eng"})
# Noun-like tags: nouns, verbal and adjectival nouns, abbreviations, idioms used as nouns.
NOUN_FLAGS = frozenset({"n", "ng", "vn", "an", "j", "nl"})
# The share is estimated on at most this many articles: enough to tell rare from common.
MAX_SAMPLED_ARTICLES = 4000
_ENTITY_SUFFIX = re.compile(r"[\u4e00-\u9fff]{2,}[县市乡村镇区省州]$")


class CorpusWords:
    """How many of the corpus's articles use a word (substring match, so a question's word
    meets the story's longer compound)."""

    def __init__(self, texts: Iterable[str]) -> None:
        sample: list[str] = []
        for text in texts:
            sample.append(text)
            if len(sample) >= MAX_SAMPLED_ARTICLES:
                break
        self._texts = tuple(sample)

    def share(self, word: str) -> float:
        """Share of the (sampled) articles whose text contains `word`."""
        if not self._texts:
            return 0.0
        return sum(1 for text in self._texts if word in text) / len(self._texts)


def topic_words(question: str, corpus: CorpusWords) -> tuple[str, ...]:
    """The words of the question that name a topic; empty for a follow-up."""
    text = normalize_question(question)
    if is_english(text):
        # English: capitalised names and numbers (content_segments keeps only those).
        return tuple(content_segments(text))
    found: list[str] = []
    for segment in content_segments(text):
        for word, flag in tag_words(segment):
            if is_topical(word, flag, corpus.share):
                found.append(word)
    return tuple(dict.fromkeys(found))


def is_topical(word: str, flag: str, share: Callable[[str], float]) -> bool:
    """A proper name, a named place (…县, …村), or a noun few articles use."""
    if len(word) < 2:
        return False
    if flag in NAME_FLAGS or _ENTITY_SUFFIX.match(word):
        return True
    return flag in NOUN_FLAGS and share(word) <= SPECIFIC_SHARE
