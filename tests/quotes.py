"""What "quoted verbatim" means for answers and passages, and a typeset variant of the stories
that gives the cleaning spaces and punctuation of every width to keep."""

from __future__ import annotations

import re

# A line break the cleaning joined, with what it trims from the lines it joins: their indent,
# trailing spaces and a markdown heading mark (`## 举行…` under its kicker line).
JOINED_BREAK = re.compile(r"[^\S\r\n]*(?:\r\n?|\n)[^\S\r\n]*(?:#{1,6}[^\S\r\n#]*)?")
JOIN = "\x00"


def occurs_verbatim(quote: str, original: str) -> bool:
    """`quote` is a run of the file's own characters once the line breaks the cleaning joined
    are removed. Only where a line break was joined may the quote hold a plain space the file
    lacks (headline lines joined into one, Latin words across a wrap)."""
    flat = JOINED_BREAK.sub(JOIN, original)
    parts = [f"(?: |{JOIN})" if ch == " " else re.escape(ch) for ch in quote]
    return re.search(f"{JOIN}*".join(parts), flat) is not None


FULL_WIDTH = str.maketrans({",": "，", ":": "：", ";": "；", "(": "（", ")": "）", "?": "？"})
CJK_SPACE_CJK = re.compile(r"(?<=[\u4e00-\u9fff）”]) (?=[\u4e00-\u9fff（“])")
MIN_INDENTED_CHARS = 40


def typeset(text: str) -> str:
    """The story as many pages are typed: full-width punctuation, ideographic spaces between
    Chinese words, paragraphs indented with two of them, a no-break space and a run of spaces
    inside paragraphs, a tab in a dateline, CRLF line ends."""
    lines = []
    for line in text.split("\n"):
        line = CJK_SPACE_CJK.sub("\u3000", line.translate(FULL_WIDTH))
        if len(line) > MIN_INDENTED_CHARS:
            line = "\u3000\u3000" + line.replace("，", "，\u00a0", 1).replace("。", "。  ", 1)
        line = line.replace("讯（", "讯\t（", 1)
        lines.append(line)
    return "\r\n".join(lines)
