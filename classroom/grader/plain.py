"""Report text as plain text: what a student controls is shown, never obeyed by a terminal.

A file name, an exception message or a cell's output can carry terminal escape
sequences (which can redraw the instructor's screen: "38 / 38" over a 0), carriage
returns, bidirectional-override characters or line separators. Every such character is
shown as its escape (`\\x1b`, `\\r`, `\\u202e`), so the text reads the same on a terminal, in
an editor and in JSON.
"""

import unicodedata

KEPT = "\n"  # report messages are several lines; each line is shown on its own
NAMED = {"\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\v": "\\v", "\0": "\\0"}
ESCAPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, formats, unassigned, separators


def _escape(ch):
    if ch in NAMED:
        return NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def plain(text):
    """text (any object, shown with str) with every control, format and separator
    character except the newline replaced by its escape; returns a str."""
    text = str(text)
    if text.isprintable():  # the common case, checked in C
        return text
    return "".join(ch if ch == KEPT or unicodedata.category(ch) not in ESCAPED_CATEGORIES else _escape(ch)
                   for ch in text)
