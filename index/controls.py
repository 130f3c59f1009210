"""Characters that would let a story drive or reorder a terminal, and how they are shown instead.

Shared by `newsqa ask`'s text and JSON output, `newsqa chat` and the one-line error messages,
so every place that prints story text or a file name escapes the same characters.
"""

from __future__ import annotations

import re

# Unicode format controls (category Cf, as of Unicode 14) plus the line and paragraph
# separators. The bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and
# marks (U+200E/U+200F, U+061C) make a terminal show `座七十三` as `三十七座`; the zero-width
# ones hide text; U+2028/U+2029 break a line on some terminals. News has no use for them raw,
# so all are escaped (a zero-width joiner inside an emoji included).
FORMAT_CONTROLS = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
)
# C0 controls except \t and \n, DEL and C1 (ESC, CSI, OSC …), and the format controls.
TERMINAL_CONTROLS = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{FORMAT_CONTROLS}]")
# json.dumps(ensure_ascii=False) escapes C0 itself but writes the rest raw.
JSON_RAW_CONTROLS = re.compile(f"[\x7f-\x9f{FORMAT_CONTROLS}]")


def shown(char: str) -> str:
    """One control character as text a person can read: \\xNN, \\uNNNN or \\UNNNNNNNN."""
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def json_escape(char: str) -> str:
    """One control character as a JSON escape (a surrogate pair beyond the BMP), so a JSON
    reader gets the text as written while the line itself holds no raw control."""
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
