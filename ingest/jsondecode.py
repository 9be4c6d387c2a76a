"""Decode JSON payloads with orjson, rejecting an object that holds the same key twice.

JSON leaves a duplicated key undefined (RFC 8259 §4: names "SHOULD be unique"); orjson, like most
parsers, silently keeps the last value, so `{"value": {"5": 1.0, "5": 2.0}}` would load 2.0 without a
word. Every connector decodes its JSON through `loads` here.

How, without a second slow parse: every key of the raw text is followed by exactly one ':' outside
strings, so the raw text holds (keys) + (':' inside strings) colons. The same tally over the decoded
document (its keys, and the ':' in its strings, counted with C-level joins) is smaller exactly when keys
were dropped. A colon written as the escape \\u003a counts in the decoded strings but not in the raw
text, so a payload holding that escape is checked exactly with the standard library's pairs hook
instead. `check_keys` runs the same check on a document already decoded with orjson (Fingrid's fetch
decodes each page only to read where the next one is, and checks the keys in parse, which an unchanged
payload never reaches); a caller that has already found an array to hold only numbers (the JSON-stat
reader, by building its Float64 Series) names it in `numeric` and the tally skips it. On a 1 M-cell
JSON-stat payload the tally costs a fraction of the orjson parse itself (bench/bench_jsonstat.py measures
read_jsonstat, which decodes through here).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Collection, Set
from itertools import chain
from typing import Any, Final, cast

import orjson

from ingest.errors import ValidationError

__all__ = ["DuplicateKeyError", "check_keys", "loads"]

_ESCAPED_COLON: Final = re.compile(rb"\\u003[aA]")
_CONTAINERS: Final = (dict, list)


class DuplicateKeyError(ValidationError):
    """A JSON object with the same key more than once: which value was meant cannot be known."""


class _Duplicate:
    """Stands in for an object with a duplicated key while the exact check decodes the document."""

    def __init__(self, key: str, times: int, keys: list[str]) -> None:
        self.key = key
        self.times = times
        self.keys = keys


def loads(raw: bytes | str, source: str, field: str = "body") -> Any:
    """orjson.loads(raw), or DuplicateKeyError naming the key and its JSON path when an object repeats a key.

    Invalid JSON raises orjson.JSONDecodeError as orjson.loads does, so callers keep their own message.
    """
    document = orjson.loads(raw)
    check_keys(raw, document, source, field)
    return document


def check_keys(
    raw: bytes | str,
    document: object,
    source: str,
    field: str = "body",
    *,
    numeric: Collection[list[Any]] = (),
) -> None:
    """DuplicateKeyError naming the key and its JSON path when an object of `raw` repeats a key;
    `document` is orjson.loads(raw).

    `numeric`: arrays of `document` the caller has already found to hold only numbers, booleans and
    nulls (such as by building a polars Float64 Series of them); the tally skips them, as they hold no
    key and no string.
    """
    if isinstance(raw, bytes):
        colons = raw.count(b":")
        escaped = b"\\" in raw and _ESCAPED_COLON.search(raw) is not None  # memchr first: fast
    else:
        colons = raw.count(":")
        escaped = "\\" in raw and _ESCAPED_COLON.search(raw.encode()) is not None
    if not escaped and colons <= _tally(document, {id(array) for array in numeric}):
        return  # without escapes the tally is never less than the colons: equal, so no key repeats
    found = _find_duplicate(raw)
    if found is None:
        return
    path, duplicate = found
    where = f"{field}: {path}" if path else field
    listed = ", ".join(json.dumps(k, ensure_ascii=False) for k in dict.fromkeys(duplicate.keys[:6]))
    raise DuplicateKeyError(
        source,
        where,
        "an object with each key once (JSON leaves a repeated key undefined; a parser keeps one silently)",
        f"key {json.dumps(duplicate.key, ensure_ascii=False)} {duplicate.times} times "
        f"in the object with keys {listed}{'…' if len(duplicate.keys) > 6 else ''}",
    )


def _tally(document: object, numeric: Set[int]) -> int:
    """Keys plus ':' characters inside strings, over the whole decoded document but the arrays whose id()
    is in `numeric`."""
    total = 0
    stack: list[object] = [document]
    while stack:
        node = stack.pop()
        if numeric and id(node) in numeric:
            continue
        values: list[Any]
        if isinstance(node, dict):
            total += len(node) + "".join(node).count(":")
            values = list(node.values())
        elif isinstance(node, list):
            values = node
        elif isinstance(node, str):
            total += node.count(":")
            continue
        else:
            continue
        try:  # numbers, nulls and empty values hold nothing to count (the common case for `value`)
            sum(filter(None, values), 0.0)  # C-level; a non-empty string, object or array raises
            continue
        except (TypeError, OverflowError):
            pass
        kinds = set(map(type, values))
        if kinds == {dict}:  # records (a list of objects): their keys at once, their values as one list
            records = cast(list[dict[str, object]], values)
            total += sum(map(len, records)) + "".join(chain.from_iterable(records)).count(":")
            stack.append(list(chain.from_iterable(map(dict.values, records))))
            continue
        total += "".join(filter(str.__instancecheck__, values)).count(":")  # C-level, as above
        if kinds & {dict, list}:
            stack.extend(v for v in values if isinstance(v, _CONTAINERS))
    return total


def _find_duplicate(raw: bytes | str) -> tuple[str, _Duplicate] | None:
    """The JSON path of the first object holding a repeated key, by the standard library's exact decode."""

    def pairs(items: list[tuple[str, Any]]) -> object:
        made = dict(items)
        if len(made) != len(items):
            keys = [k for k, _ in items]
            counts = Counter(keys)  # one pass: keys.count per key was quadratic (40k keys took 49 s)
            repeated = next(k for k in keys if counts[k] > 1)
            return _Duplicate(repeated, counts[repeated], keys)
        return made

    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    document = json.loads(text, object_pairs_hook=pairs)
    stack: list[tuple[str, object]] = [("", document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, _Duplicate):
            return path, node
        if isinstance(node, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(node))))
    return None
