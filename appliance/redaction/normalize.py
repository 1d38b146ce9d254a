"""The shadow text: what the recognizers read, with a map back to the original offsets.

Obfuscation must not get PII past the analyzer, and every span must index the ORIGINAL text (a
redactor replaces characters of what the user sent, not of a copy). So the analyzer reads a
normalised shadow copy and maps each span back:

1. Zero-width and other invisible format characters (Unicode category Cf: U+200B..U+200F, U+2060,
   U+FEFF, soft hyphen, bidi controls) are dropped: "j\u200bohn@x.com" is an e-mail address.
2. Every decimal digit of any script ("４１１１", "٤١١١", "४१११") becomes its ASCII digit.
3. NFKC per character: full-width letters and punctuation, ligatures, superscripts and
   compatibility forms become their plain equivalents ("ｊｏｈｎ＠ｘ．ｃｏｍ").
4. Digits spelt out one at a time ("4 1 1 1 1 1 ...") are joined, and spaces around a dash or dot
   between digits are closed up ("123 - 45 - 6789"): separators are then the ones the pattern
   recognizers already accept.

Each shadow character remembers the original range it came from (one original character may
become several, e.g. a ligature; dropped characters own nothing), so ``to_original`` is exact.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import regex

_NEEDS_WORK = re.compile(r"[^\x00-\x7f]|\d[ \t]+\d|\d[ \t]*[.\-][ \t]+\d|\d[ \t]+[.\-][ \t]*\d")
_SPACED_DIGITS = re.compile(r"(?<!\d)\d(?:[ \t]{1,2}\d)+(?!\d)|\d(?:[ \t]{1,2}\d(?!\d))+")
# Characters the per-character pass would change: invisible format characters and non-ASCII digits.
_CHANGES = regex.compile(r"\p{Cf}|(?![0-9])\d")
_SPACED_SEPARATOR = re.compile(r"(?<=\d)[ \t]*([.\-])[ \t]*(?=\d)")


@dataclass(frozen=True)
class ShadowText:
    original: str
    text: str
    starts: tuple[int, ...] | None  # None: the shadow is the original, character for character
    ends: tuple[int, ...] | None

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a shadow span ``[start, end)`` to the original text."""
        if self.starts is None or self.ends is None:
            return start, end
        if end <= start:
            pos = self.starts[start] if start < len(self.starts) else len(self.original)
            return pos, pos
        return self.starts[start], self.ends[end - 1]


def _char_map(ch: str) -> str:
    if unicodedata.category(ch) == "Cf":
        return ""
    if ch.isdecimal():
        return str(unicodedata.decimal(ch, 0))
    if ch.isascii():
        return ch
    return unicodedata.normalize("NFKC", ch)


def normalize(text: str) -> ShadowText:
    """The shadow text of ``text``. Costs one regex search for plain text, and a per-character
    pass only when a character actually changes (invisible, non-ASCII digit, not NFKC)."""
    if not _NEEDS_WORK.search(text):
        return ShadowText(text, text, None, None)
    if text.isascii() or (unicodedata.is_normalized("NFKC", text) and not _CHANGES.search(text)):
        chars: list[str] | str = text  # every character maps to itself
        starts: list[int] | range = range(len(text))
        ends: list[int] | range = range(1, len(text) + 1)
    else:
        chars, starts, ends = [], [], []
        for i, ch in enumerate(text):
            for out in _char_map(ch):
                chars.append(out)
                starts.append(i)
                ends.append(i + 1)
    shadow = "".join(chars)
    drop: set[int] = set()
    for m in _SPACED_SEPARATOR.finditer(shadow):
        drop.update(j for j in range(m.start(), m.end()) if j != m.start(1))
    for m in _SPACED_DIGITS.finditer(shadow):
        drop.update(j for j in range(m.start(), m.end()) if shadow[j] in " \t")
    if not drop:
        if isinstance(starts, range):
            return ShadowText(text, text, None, None)
        return ShadowText(text, shadow, tuple(starts), tuple(ends))
    keep = [j for j in range(len(shadow)) if j not in drop]
    return ShadowText(text, "".join(shadow[j] for j in keep), tuple(starts[j] for j in keep),
                      tuple(ends[j] for j in keep))
