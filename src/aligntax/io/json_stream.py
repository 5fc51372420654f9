"""Streaming reader for ``.json`` files.

A top-level array is split element by element with ``json.JSONDecoder.raw_decode`` over a sliding text
buffer, so memory stays at one chunk plus the largest element. A top-level object is loaded whole
(it is one value): either it is itself one row (``{"messages": [...]}``), or it holds the rows in a list
under some key (``{"model_name": ..., "prompts": [...]}``), whose scalar siblings become the
``container`` metadata of every row.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import IO, Any

from aligntax.errors import InputError
from aligntax.io.formats import RawRow, detect_row_format

CHUNK_CHARS = 1 << 20
_WS = re.compile(r"[ \t\r\n]*")
_BAD_BYTE = re.compile("[\udc80-\udcff]")  # undecodable bytes, as kept by the surrogateescape handler
_decoder = json.JSONDecoder()


class JsonFileReader:
    """Iterate the rows of one ``.json`` file; ``container`` is filled once the first row is read."""

    def __init__(self, name: str, stream: IO[bytes], max_element_chars: int) -> None:
        self.name = name
        self.stream = stream
        self.max_element_chars = max_element_chars
        self.container: dict[str, Any] = {}
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape").decode
        self._buf = ""
        self._eof = False
        self._bad_bytes = False

    def _more(self, n: int = CHUNK_CHARS) -> None:
        data = self.stream.read(n)
        text = self._decode(data, final=not data)
        if not data:
            self._eof = True
        if text and not self._bad_bytes and _BAD_BYTE.search(text):
            self._bad_bytes = True
        self._buf += text

    def _skip_ws(self, pos: int) -> int:
        while True:
            pos = _WS.match(self._buf, pos).end()
            if pos < len(self._buf) or self._eof:
                return pos
            self._more()

    def __iter__(self) -> Iterator[RawRow]:
        self._more()
        if self._buf.startswith("\ufeff"):
            self._buf = self._buf[1:]
        pos = self._skip_ws(0)
        if pos >= len(self._buf):
            return
        first = self._buf[pos]
        if first == "[":
            yield from self._array(pos + 1)
        elif first == "{":
            yield from self._object()
        else:
            raise InputError(f"{self.name}:1: a .json file must hold an array or an object, found {first!r}; "
                             "for one JSON object per line use the .jsonl extension")

    def _where(self, pos: int, line_base: int, line_pos: int) -> int:
        return line_base + self._buf.count("\n", line_pos, pos)

    def _array(self, pos: int) -> Iterator[RawRow]:
        index, line_base, line_pos = 0, 1, 0  # line_base is the line number at buffer offset line_pos
        expect_value = True
        while True:
            pos = self._skip_ws(pos)
            line_base, line_pos = self._where(pos, line_base, line_pos), pos
            if pos >= len(self._buf):
                raise InputError(f"{self.name}:{line_base}: unexpected end of file inside the top-level array")
            char = self._buf[pos]
            if not expect_value:
                if char == "]":
                    return
                if char != ",":
                    raise InputError(f"{self.name}:{line_base}: invalid JSON: expected ',' or ']' between array "
                                     f"elements, found {char!r}; the rest of the file cannot be read")
                pos, expect_value = pos + 1, True
                continue
            if char == "]" and index == 0:
                return
            try:
                value, end = _decoder.raw_decode(self._buf, pos)
                complete = end < len(self._buf) or self._eof  # a number at the buffer edge may go on
            except json.JSONDecodeError as exc:
                if self._eof or len(self._buf) - pos > self.max_element_chars:
                    line = line_base + self._buf.count("\n", pos, exc.pos)
                    too_big = not self._eof
                    detail = (f"an element is larger than max_line_bytes={self.max_element_chars}" if too_big
                              else f"invalid JSON: {exc.msg}")
                    raise InputError(f"{self.name}:{line}: {detail}; the rest of the file cannot be read") from None
                complete = False
            if not complete:
                self._more(max(CHUNK_CHARS, len(self._buf) - pos))
                continue
            error = None
            if self._bad_bytes and _BAD_BYTE.search(self._buf, pos, end):
                error, value = "not-utf8: the element holds bytes that are not valid UTF-8", None
            yield RawRow(self.name, index, line_base, value, None, error)
            index, pos, expect_value = index + 1, end, False
            if pos > CHUNK_CHARS:  # drop what has been consumed
                line_base = self._where(pos, line_base, line_pos)
                self._buf, pos, line_pos = self._buf[pos:], 0, 0

    def _object(self) -> Iterator[RawRow]:
        while not self._eof:
            self._more(1 << 24)
        if self._bad_bytes:
            bad = _BAD_BYTE.search(self._buf)
            line = self._buf.count("\n", 0, bad.start()) + 1
            raise InputError(f"{self.name}:{line}: not valid UTF-8")
        try:
            obj = json.loads(self._buf)
        except json.JSONDecodeError as exc:
            raise InputError(f"{self.name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        self._buf = ""
        if detect_row_format(obj):
            yield RawRow(self.name, 0, 1, obj)
            return
        lists = [k for k, v in obj.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v[:50])]
        if not lists:
            raise InputError(f"{self.name}: the JSON object is not a known row format and holds no list of rows "
                             f"(keys {sorted(obj)[:12]})")
        key = max(lists, key=lambda k: len(obj[k]))
        self.container = {k: v for k, v in obj.items() if k != key and isinstance(v, (str, int, float, bool))}
        rows = obj.pop(key)
        obj.clear()
        for index, row in enumerate(rows):
            yield RawRow(self.name, index, None, row)
