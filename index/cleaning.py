"""Pages → articles: headlines, bylines, captions, broken-paragraph repair, dedupe (all pure).

A page is a newspaper page flattened to text: blocks separated by blank lines, headlines
with or without markdown `#` marks, kickers above headlines, bylines and datelines, photo
captions and credits, section subheads inside long articles, paragraphs cut in two by a
column break, and paragraphs printed twice. Each step below handles one of these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from enum import Enum

from index.containment import Containment, contained_keys
from index.models import Article, Page, Paragraph

# Longest line still taken for a headline, kicker or subhead (longer ones are body text).
MAX_HEADLINE_CHARS = 32
MAX_BYLINE_CHARS = 40
# Column labels (`民生焦点`, `时讯快递`) are a few characters on a line of their own.
MAX_LABEL_CHARS = 6
MIN_LABELLED_BODY_CHARS = 100
# A photo story is a headline, a few paragraphs, then a caption or credit.
MAX_PHOTO_STORY_PARAGRAPHS = 3
# Blocks looked at after a headline group to decide whether it opens an article.
LOOKAHEAD_BLOCKS = 8
# Sentences this long that recur on one page are a layout's repeat, not the writer's.
MIN_REPEATED_SENTENCE_CHARS = 15
# How much better (share of headline character pairs found in the body) a neighbour's body
# must fit a headline, both ways, before the two headlines are taken as printed crosswise.
MIN_SWAP_GAIN = 0.2
MIN_HEADING_BIGRAMS = 6
# A heading with more character pairs than this is matched against a set of the body's pairs.
MAX_SCANNED_PAIRS = 64
# Shorter paragraphs are too generic to be dropped for being contained in another one.
MIN_CONTAINED_CHARS = 10

SENTENCE_END = "。！？!?…；;"
CLOSING_MARKS = "”’」』）)》】"
KICKER_ENDINGS = ("：", ":", "——", "—")
KICKER_TAIL_CHARS = max(map(len, KICKER_ENDINGS))
BRACKET_PAIRS = (("“", "”"), ("‘", "’"), ("「", "」"), ("『", "』"), ("(", ")"), ("（", "）"))
BRACKET = re.compile(f"[{re.escape(''.join(''.join(pair) for pair in BRACKET_PAIRS))}]")

BLANK_LINE = re.compile(r"\n\s*\n")
SENTENCE = re.compile(r"[^。！？!?]+(?:[。！？!?]+[”’」』）)]*|$)|[。！？!?]+")
HEADING_MARK = re.compile(r"^(#{1,6})(?=[^#])\s*")
# What `str.isalnum` rejects: `\w` is exactly isalnum() plus the underscore.
NOT_ALNUM = re.compile(r"[\W_]+")
SENTENCE_PUNCTUATION = re.compile(r"[。！？!?；;…]")
# `…(完)`, `…（记者 甲）`: a note after the last sentence, at most this long inside its brackets.
MAX_NOTE_CHARS = 12
TRAILING_NOTE = re.compile(rf"[(（][^()（）]{{1,{MAX_NOTE_CHARS}}}[)）]$")
NOTE_SPAN = MAX_NOTE_CHARS + 2
# Final characters of a paragraph read to tell whether it ends a sentence (`decision_tail`):
# spaces, a note and closing marks, each run shortened to these lengths, then one character.
MAX_SPACE_RUN = MAX_NOTE_CHARS + 1
MAX_CLOSER_RUN = NOTE_SPAN + 1
TAIL_CHARS = 64
SPACE_RUN = re.compile(rf"\s{{{MAX_SPACE_RUN + 1},}}")
CLOSER_RUN = re.compile(f"[{re.escape(CLOSING_MARKS)}]{{{MAX_CLOSER_RUN + 1},}}")
BYLINE = re.compile(
    r"^(?:本[报報])?(?:特约|特約|见习|見習)?(?:记者|記者|通讯员|通訊員)\s*[:：]?\s*[\u4e00-\u9fff·]"
)
PHOTO_CREDIT = re.compile(
    r"^(?:[^。！？!?,，]{1,48}\s|(?:本[报報])?(?:特约|特約)?(?:记者|記者|通讯员|通訊員)[^。！？!?,，]{1,40})"
    r"(?:摄|攝|摄影|攝影|摄影报道|攝影報道|供图|供圖)$"
)
CAPTION_MARKERS = re.compile(r"^[▲△■□●◆◇★☆▼]+\s*")
CAPTION = re.compile(
    r"^[▲△■□●◆◇★☆▼]*\s*(?:[图圖][为為爲]|[上下左右][图圖]|[图圖][①-⑳\d一二三四五六七八九十]+\s*[:：]"
    r"|[图圖]\s*[:：])"
)
# a photo story printed as one paragraph: text, then `图为…` as its last sentence
INLINE_CAPTION = re.compile(r"[。！？!?]\s*(?:[图圖][为為爲]|[上下][图圖])[^。！？!?]*[。！？!?]?$")
DATELINE = re.compile(
    r"^(?P<dateline>(?:本[报報]|新华社|新華社|中新社)[^\s()（）,，。、]{0,16}?[电讯電訊]\s*"
    r"[(（][^()（）]{1,40}[)）])\s*"
)
PAGE_FURNITURE = re.compile(
    r"^(?:(?:责任编辑|本版编辑|编辑|校对|美编|版式|审核|审校)\s*[:：].{0,20}"
    r"|第?\s*[A-Za-z]?\d{1,3}\s*版"
    r"|[-—–]?\s*\d{1,3}\s*[-—–]?"
    r"|\d{4}年\d{1,2}月\d{1,2}日\s*(?:星期.)?"
    r"|图片新闻|本版导读"
    r"|[■□▲●◆★]\s*\S{1,6})$"
)


class BlockKind(Enum):
    """What one block of a page is, judged on its own text."""

    BODY = "body"
    HEADLINE = "headline"  # headline, kicker, subtitle, subhead or column label
    BYLINE = "byline"
    CAPTION = "caption"
    CREDIT = "credit"
    FURNITURE = "furniture"


class Role(Enum):
    """What a kept paragraph is inside its article; decides what break repair may join."""

    BODY = "body"
    FRAGMENT = "fragment"  # a headline-looking line that is really the start of a cut paragraph
    SUBHEAD = "subhead"
    SUBTITLE = "subtitle"
    CAPTION = "caption"


JOINABLE = frozenset({Role.BODY, Role.FRAGMENT})


@dataclass(frozen=True)
class Block:
    """A non-blank line group of the page; `number` is what citations point at."""

    number: int
    text: str
    level: int = 0  # markdown heading level, 0 when unmarked


@dataclass(frozen=True)
class Piece:
    """A paragraph on its way into an article."""

    number: int
    text: str
    role: Role


@dataclass(frozen=True)
class Section:
    """The blocks of one article: its headline group (if any) and what follows it."""

    heading: tuple[Block, ...]
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Draft:
    """An article before numbering and dedupe."""

    headline: str
    byline: str
    pieces: tuple[Piece, ...]


def split_articles(page: Page, containment: Containment = contained_keys) -> list[Article]:
    """Cut one page into cleaned articles whose paragraph numbers point into the file.

    `containment` finds fragments of longer paragraphs; the bench passes the old pairwise one."""
    blocks = split_blocks(page.text)
    drafts = [draft_article(section) for section in split_sections(blocks)]
    drafts = swap_crossed_headlines(drafts)
    drafts = drop_repeated_sentences(dedupe_pieces(drafts, containment))
    return [
        Article(
            file=page.file,
            index=index,
            headline=draft.headline,
            paragraphs=tuple(Paragraph(p.number, p.text) for p in draft.pieces),
            byline=draft.byline,
        )
        for index, draft in enumerate(d for d in drafts if d.pieces)
    ]


# ---------------------------------------------------------------- blocks


def split_blocks(text: str) -> list[Block]:
    """Blank-line separated blocks, numbered 1.. in file order; one line each if no blank lines."""
    text = text.replace("\r\n", "\n").strip("\n")
    chunks = BLANK_LINE.split(text) if BLANK_LINE.search(text) else text.split("\n")
    blocks: list[Block] = []
    for chunk in chunks:
        lines = [line.strip() for line in chunk.split("\n") if line.strip()]
        if not lines:
            continue
        level, first = strip_heading_mark(lines[0])
        joined = join_wrapped_lines([first, *lines[1:]])
        blocks.append(Block(number=len(blocks) + 1, text=joined, level=level))
    return blocks


def strip_heading_mark(line: str) -> tuple[int, str]:
    """Markdown-ish `#` marks tell headline levels; the text itself must not keep them."""
    match = HEADING_MARK.match(line)
    if not match or line.endswith("#"):  # `#话题#` is a hashtag, not a heading
        return 0, line
    return len(match.group(1)), line[match.end() :].strip()


def join_wrapped_lines(lines: Sequence[str]) -> str:
    """Hard-wrapped lines of one block: Chinese joins without a space, Latin with one; the
    spaces inside each line stay as written, so answers quote the story verbatim."""
    return join_cut_texts(lines)


# ---------------------------------------------------------------- block kinds


def classify_block(block: Block) -> BlockKind:
    """Judge one block by its own text; context decides later what a headline line is."""
    text = block.text
    if PAGE_FURNITURE.match(text):
        return BlockKind.FURNITURE
    if is_photo_credit(text):
        return BlockKind.CREDIT
    if is_byline(text):
        return BlockKind.BYLINE
    if CAPTION.match(text):
        return BlockKind.CAPTION
    if block.level or is_headline_like(text):
        return BlockKind.HEADLINE
    return BlockKind.BODY


def is_photo_credit(text: str) -> bool:
    """`本报记者 X 摄`: credits a photo, is not text anyone asks about."""
    return len(text) <= MAX_BYLINE_CHARS + 10 and bool(PHOTO_CREDIT.match(text))


def is_byline(text: str) -> bool:
    """`本报记者 X` or `本报通讯员 X Y` on a line of its own."""
    return (
        len(text) <= MAX_BYLINE_CHARS
        and bool(BYLINE.match(text))
        and not re.search(r"[,，。！？!?；;]", text)
    )


def is_headline_like(text: str) -> bool:
    """Short, no sentence punctuation, quotes balanced, not ending mid-clause."""
    return (
        0 < len(text) <= MAX_HEADLINE_CHARS
        and not SENTENCE_PUNCTUATION.search(text)
        and not text.endswith((",", "，", "、"))
        and brackets_balanced(text)
    )


def brackets_balanced(text: str) -> bool:
    """An open quote without its close means the line was cut from a paragraph."""
    if not BRACKET.search(text):  # most lines: one scan instead of twelve counts
        return True
    return all(text.count(left) == text.count(right) for left, right in BRACKET_PAIRS)


def ends_sentence(text: str) -> bool:
    """Whether a paragraph ends where a sentence ends (else a column break may have cut it)."""
    end = deciding_end(text)
    return end == 0 or text[end - 1] in SENTENCE_END


def deciding_end(text: str) -> int:
    """Where the text ends once trailing spaces, a bracketed note and closing quotes are off.

    Reads only those final characters, never the whole text: a paragraph being rejoined from
    thousands of cut lines is asked this after every line."""
    end = len(text)
    while end and text[end - 1].isspace():
        end -= 1
    note = TRAILING_NOTE.search(text, max(0, end - NOTE_SPAN), end)
    if note:
        end = note.start()
    while end and text[end - 1] in CLOSING_MARKS:
        end -= 1
    return end


def split_dateline(text: str) -> tuple[str, str]:
    """`本报拉萨讯(记者 X)近日,…` → (`本报拉萨讯(记者 X)`, `近日,…`)."""
    match = DATELINE.match(text)
    if not match:
        return "", text
    return match.group("dateline"), text[match.end() :]


def caption_text(text: str) -> str:
    """The caption without the ▲■ bullets that point at the photo."""
    return CAPTION_MARKERS.sub("", text)


# ---------------------------------------------------------------- sections


def split_sections(blocks: Sequence[Block]) -> list[Section]:
    """Cut the page where a headline group starts an article, or a byline/dateline starts one."""
    kinds = [classify_block(block) for block in blocks]

    def lookahead(start: int) -> list[tuple[Block, BlockKind]]:
        window = slice(start, start + LOOKAHEAD_BLOCKS)
        return list(zip(blocks[window], kinds[window], strict=True))

    sections: list[Section] = []
    heading: tuple[Block, ...] = ()
    body: list[Block] = []
    i = 0
    while i < len(blocks):
        if kinds[i] is BlockKind.HEADLINE:
            end = i
            while end < len(blocks) and kinds[end] is BlockKind.HEADLINE:
                end += 1
            group = tuple(blocks[i:end])
            if not (sections or heading or body) or starts_article(group, lookahead(end)):
                if heading or body:
                    sections.append(Section(heading, tuple(body)))
                heading, body = group, []
            else:
                body.extend(group)
            i = end
            continue
        if body and starts_unheaded_article(blocks[i], kinds[i], lookahead(i + 1)):
            sections.append(Section(heading, tuple(body)))
            heading, body = (), []
        body.append(blocks[i])
        i += 1
    if heading or body:
        sections.append(Section(heading, tuple(body)))
    return sections


def starts_unheaded_article(
    block: Block, kind: BlockKind, following: Sequence[tuple[Block, BlockKind]]
) -> bool:
    """A byline, a dateline or a captioned photo story begins a story even without headline."""
    if kind is BlockKind.BYLINE or (kind is BlockKind.BODY and DATELINE.match(block.text)):
        return True
    after = [k for _, k in following if k is not BlockKind.FURNITURE]
    return (
        kind is BlockKind.BODY
        and bool(INLINE_CAPTION.search(block.text))
        and bool(after)
        and after[0] is BlockKind.CREDIT
    )


def starts_article(group: Sequence[Block], following: Sequence[tuple[Block, BlockKind]]) -> bool:
    """A headline group opens an article, unless it is a subhead or a stray cut line."""
    if any(block.level in (1, 2) for block in group):
        return True
    texts = [block.text for block in group]
    if any(text.startswith("—") for text in texts[1:]):
        return True
    if len(texts) > 1 and texts[0].endswith(KICKER_ENDINGS):
        return True
    after = [(block, kind) for block, kind in following if kind is not BlockKind.FURNITURE]
    if after and starts_unheaded_article(*after[0], after[1:]):
        return True
    return is_photo_story(after)


def is_photo_story(after: Sequence[tuple[Block, BlockKind]]) -> bool:
    """A short run of text closed by a caption or credit is a photo story with its own headline."""
    paragraphs = 0
    for _, kind in after:
        if kind in (BlockKind.CAPTION, BlockKind.CREDIT):
            return paragraphs > 0
        if kind is BlockKind.HEADLINE:
            return False
        if kind is BlockKind.BODY:
            paragraphs += 1
            if paragraphs > MAX_PHOTO_STORY_PARAGRAPHS:
                return False
    return False


# ---------------------------------------------------------------- headlines


def compose_headline(group: Sequence[Block]) -> tuple[str, tuple[Block, ...]]:
    """Headline text from a headline group (kicker joined in), and the subtitle blocks."""
    if not group:
        return "", ()
    split = subtitle_start(group)
    head, subtitles = list(group[:split]), tuple(group[split:])
    marked = [block for block in head if block.level in (1, 2)]
    if not marked:
        # above the last two lines sit column labels and slogans, not the headline
        return join_headline_lines([block.text for block in head[-2:]]), subtitles
    start = head.index(marked[0])
    if len(marked) == 1 and start > 0:
        marked = [head[start - 1], *marked]  # an unmarked kicker right above the headline
    return join_headline_lines([block.text for block in marked]), subtitles


def subtitle_start(group: Sequence[Block]) -> int:
    """Where the subtitles begin (`len(group)` when none): the first line after the first that
    starts with `——`, or that is unmarked under a `#`/`##` line above it.

    One pass that remembers whether a marked line came before: a table of thousands of short
    lines is one headline group, and rescanning the lines above each line grew with its square."""
    marked_above = False
    for i, block in enumerate(group):
        marked = block.level in (1, 2)
        if i and (block.text.startswith("—") or (marked_above and not marked)):
            return i
        marked_above = marked_above or marked
    return len(group)


def join_headline_lines(lines: Sequence[str]) -> str:
    """`亚东县堆纳乡：` + `走访察民情` → one line; parallel headline lines get a space. Spaces
    inside a line stay as written (a headline is quoted when it answers)."""
    parts: list[str] = []
    tail = ""  # the last characters joined so far, enough to see a kicker's ending
    for line in lines:
        if tail and not tail.endswith(KICKER_ENDINGS):
            parts.append(" ")
            tail += " "
        parts.append(line)
        tail = (tail + line)[-KICKER_TAIL_CHARS:]
    return "".join(parts).strip()


# ---------------------------------------------------------------- articles


def draft_article(section: Section) -> Draft:
    """Turn a section into headline, byline and paragraphs with roles, breaks repaired."""
    headline, subtitles = compose_headline(section.heading)
    bylines: list[str] = []
    pieces = [Piece(block.number, block.text, Role.SUBTITLE) for block in subtitles]
    subheads_allowed = True  # short news (opened by a dateline) has no subheads
    has_body = False
    i = 0
    blocks = section.blocks
    while i < len(blocks):
        block = blocks[i]
        kind = classify_block(block)
        if kind is BlockKind.BYLINE:
            bylines.append(block.text)
        elif kind is BlockKind.CAPTION:
            pieces.append(Piece(block.number, caption_text(block.text), Role.CAPTION))
        elif kind is BlockKind.BODY:
            dateline, text = split_dateline(block.text)
            if dateline:
                bylines.append(dateline)
                subheads_allowed = False
            if text:
                pieces.append(Piece(block.number, text, Role.BODY))
                has_body = True
        elif kind is BlockKind.HEADLINE:
            end = i
            while end < len(blocks) and classify_block(blocks[end]) is BlockKind.HEADLINE:
                end += 1
            group = blocks[i:end]
            if not has_body:
                group = group[1:]  # a label between byline and lead (`聚焦 巴宜`), not a subhead
            pieces.extend(inner_heading_pieces(group, subheads_allowed=subheads_allowed))
            i = end
            continue
        i += 1
    if is_column_label(section.heading, "".join(p.text for p in pieces)):
        headline = ""  # cited as `file · ¶n`, never under the column's name
    return Draft(headline=headline, byline=" ".join(bylines), pieces=tuple(repair_breaks(pieces)))


def is_column_label(heading: Sequence[Block], body: str) -> bool:
    """A lone short heading that shares no character pair with the story under it
    (`民生焦点` above a dateline) names the page's column, not the story. Judged only under a
    story long enough for a headline's words to show up in it."""
    if len(heading) != 1 or len(body) < MIN_LABELLED_BODY_CHARS:
        return False
    text = heading[0].text
    short = len(text) <= MAX_LABEL_CHARS and not any(ch.isspace() for ch in text)
    return short and not char_bigrams(text) & char_bigrams(body)


def inner_heading_pieces(group: Sequence[Block], *, subheads_allowed: bool) -> list[Piece]:
    """Headline-looking lines inside an article: a subhead, then cut lines of a paragraph."""
    pieces = []
    for i, block in enumerate(group):
        is_subhead = i == 0 and (subheads_allowed or block.level > 0)
        role = Role.SUBHEAD if is_subhead else Role.FRAGMENT
        pieces.append(Piece(block.number, block.text, role))
    return pieces


def repair_breaks(pieces: Sequence[Piece]) -> list[Piece]:
    """Join a paragraph cut mid-sentence by a column break to its continuation.

    Each repaired paragraph keeps the texts it is made of and is joined once at the end, and
    whether it ends a sentence is read from a bounded tail kept beside it (`decision_tail`), so
    a paragraph cut into n lines costs n, not n² (a story without sentence ends is one such;
    a run of lines of closing marks another)."""
    repaired: list[Piece] = []
    parts: list[list[str]] = []  # the texts each repaired piece is joined from
    tails: list[str] = []  # the decision tail of each repaired piece's joined text
    held: list[Piece] = []  # captions printed at the break, put back after the paragraph

    def start(piece: Piece) -> None:
        repaired.append(piece)
        parts.append([piece.text])
        tails.append(decision_tail("", piece.text))

    for piece in pieces:
        last = repaired[-1] if repaired else None
        if last is not None and last.role in JOINABLE and not ends_sentence(tails[-1]):
            if piece.role is Role.CAPTION:
                held.append(piece)
                continue
            if piece.role in JOINABLE:
                repaired[-1] = replace(last, role=Role.BODY)
                parts[-1].append(piece.text)
                tails[-1] = decision_tail(tails[-1], piece.text)
                continue
        for kept in (*held, piece):
            start(kept)
        held = []
    for kept in held:
        start(kept)
    return [
        replace(p, text=join_cut_texts(texts)) for p, texts in zip(repaired, parts, strict=True)
    ]


def texts_end_sentence(texts: Iterable[str]) -> bool:
    """`ends_sentence` of the texts joined, read from their decision tail."""
    tail = ""
    for text in texts:
        tail = decision_tail(tail, text)
    return ends_sentence(tail)


def decision_tail(tail: str, text: str) -> str:
    """A short text whose `ends_sentence` is that of the whole joined text, given `tail`, the
    decision tail of the texts before `text`.

    `ends_sentence` reads back over trailing spaces, one note and closing marks: runs of spaces
    longer than `MAX_SPACE_RUN` or of closing marks longer than `MAX_CLOSER_RUN` decide nothing
    that shorter ones do not (no note holds them, and they are read past whole), so once they
    are shortened the decision lies within the last `TAIL_CHARS` characters. The tail is
    shortened only when it has grown past twice that, so most texts are only appended."""
    joined = join_cut_texts((tail, text)) if tail else text
    if len(joined) <= 2 * TAIL_CHARS:
        return joined
    joined = SPACE_RUN.sub(lambda m: m.group()[-MAX_SPACE_RUN:], joined)
    joined = CLOSER_RUN.sub(lambda m: m.group()[-MAX_CLOSER_RUN:], joined)
    return joined[-TAIL_CHARS:]


def join_cut_texts(texts: Iterable[str]) -> str:
    """Glue the pieces of a cut paragraph in one pass; only Latin words need a space between."""
    joined: list[str] = []
    last = ""
    for text in texts:
        if is_latin_letter(last) and is_latin_letter(text[:1]):
            joined.append(" ")
        joined.append(text)
        last = text[-1:] or last
    return "".join(joined)


def is_latin_letter(ch: str) -> bool:
    """ASCII letters are the only characters that need a space when text is rejoined."""
    return ch.isascii() and ch.isalpha()


# ---------------------------------------------------------------- crossed headlines


def swap_crossed_headlines(drafts: Sequence[Draft]) -> list[Draft]:
    """Some layouts print two headlines above each other's stories; give each its own."""
    fixed = list(drafts)
    i = 0
    while i + 1 < len(fixed):
        if headlines_crossed(fixed[i], fixed[i + 1]):
            fixed[i], fixed[i + 1] = swap_headings(fixed[i], fixed[i + 1])
            i += 2
        else:
            i += 1
    return fixed


def headlines_crossed(first: Draft, second: Draft) -> bool:
    """Each headline fits the neighbour's body clearly better than its own."""
    head_1, head_2 = char_bigrams(heading_text(first)), char_bigrams(heading_text(second))
    if min(len(head_1), len(head_2)) < MIN_HEADING_BIGRAMS:
        return False
    body_1, body_2 = match_key(body_text(first)), match_key(body_text(second))
    return (
        headline_affinity(head_1, body_2) >= headline_affinity(head_1, body_1) + MIN_SWAP_GAIN
        and headline_affinity(head_2, body_1) >= headline_affinity(head_2, body_2) + MIN_SWAP_GAIN
    )


def heading_text(draft: Draft) -> str:
    """Headline and subtitles: what a reader takes the story to be about."""
    subtitles = [p.text for p in draft.pieces if p.role is Role.SUBTITLE]
    return " ".join([draft.headline, *subtitles])


def body_text(draft: Draft) -> str:
    """Everything under the headline except its subtitles."""
    return "".join(p.text for p in draft.pieces if p.role is not Role.SUBTITLE)


def char_bigrams(text: str) -> set[str]:
    """Character pairs: word overlap for Chinese without a tokenizer."""
    return key_bigrams(match_key(text))


def key_bigrams(key: str) -> set[str]:
    """The character pairs of text already reduced by `match_key`."""
    return {key[i : i + 2] for i in range(len(key) - 1)}


def headline_affinity(heading_pairs: AbstractSet[str], body_key: str) -> float:
    """Share of the heading's character pairs that the body (its `match_key`) uses.

    A substring test per pair rather than a set of the body's pairs: a long body is scanned in
    C instead of being cut into one Python string per character (unless the heading is long)."""
    if not heading_pairs:
        return 0.0
    if len(heading_pairs) > MAX_SCANNED_PAIRS:
        return len(heading_pairs & key_bigrams(body_key)) / len(heading_pairs)
    return sum(pair in body_key for pair in heading_pairs) / len(heading_pairs)


def swap_headings(first: Draft, second: Draft) -> tuple[Draft, Draft]:
    """Exchange headline and subtitles; bylines and bodies stay where they were printed."""

    def parts(draft: Draft) -> tuple[list[Piece], list[Piece]]:
        subtitles = [p for p in draft.pieces if p.role is Role.SUBTITLE]
        return subtitles, [p for p in draft.pieces if p.role is not Role.SUBTITLE]

    subtitles_1, rest_1 = parts(first)
    subtitles_2, rest_2 = parts(second)
    return (
        Draft(second.headline, first.byline, (*subtitles_2, *rest_1)),
        Draft(first.headline, second.byline, (*subtitles_1, *rest_2)),
    )


# ---------------------------------------------------------------- dedupe


def match_key(text: str) -> str:
    """Text reduced to letters and digits, so spacing and punctuation variants compare equal."""
    return NOT_ALNUM.sub("", text).lower()


def dedupe_pieces(
    drafts: Sequence[Draft], containment: Containment = contained_keys
) -> list[Draft]:
    """Drop repeated paragraphs (first occurrence kept) and fragments contained in another."""
    keys = [[match_key(piece.text) for piece in draft.pieces] for draft in drafts]
    contained = containment([key for draft_keys in keys for key in draft_keys], MIN_CONTAINED_CHARS)
    seen: set[str] = set()
    deduped: list[Draft] = []
    for draft, draft_keys in zip(drafts, keys, strict=True):
        kept = []
        for piece, key in zip(draft.pieces, draft_keys, strict=True):
            if not key or key in seen:
                continue
            if piece.role not in (Role.SUBHEAD, Role.SUBTITLE) and key in contained:
                continue
            seen.add(key)
            kept.append(piece)
        deduped.append(replace(draft, pieces=tuple(kept)))
    return deduped


def drop_repeated_sentences(drafts: Sequence[Draft]) -> list[Draft]:
    """Remove long sentences a page already printed (a column repeated into another paragraph)."""
    seen: set[str] = set()
    cleaned: list[Draft] = []
    for draft in drafts:
        kept = []
        for piece in draft.pieces:
            if piece.role not in JOINABLE:
                kept.append(piece)
                continue
            text = "".join(unseen_sentences(split_sentences(piece.text), seen))
            if text:
                kept.append(replace(piece, text=text))
        cleaned.append(replace(draft, pieces=tuple(kept)))
    return cleaned


def split_sentences(text: str) -> list[str]:
    """Sentences with their closing punctuation and quotes; concatenating gives the text back."""
    return SENTENCE.findall(text)


def unseen_sentences(sentences: Iterable[str], seen: set[str]) -> list[str]:
    """Keep sentences not printed before on the page, remembering the long ones."""
    kept = []
    for sentence in sentences:
        key = match_key(sentence)
        if len(key) >= MIN_REPEATED_SENTENCE_CHARS:
            if key in seen:
                continue
            seen.add(key)
        kept.append(sentence)
    return kept
