"""Fuzzing the config loader: whatever the file holds, the outcome is a valid Config or a one-line ConfigError.

Documents are built from the real schema with values known by construction to be good (right type, in range,
one of the choices) or bad (wrong type, out of range, NaN, not a choice, unknown key, a table given a scalar), so
the test knows which outcome to expect without re-implementing the loader's checks. A loaded Config must also
survive `render_toml` → `load_config` unchanged, which is what `voice-assistant config` relies on.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.config import Config, load_config, render_toml
from assistant.errors import ConfigError

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@dataclass(frozen=True)
class Leaf:
    path: tuple[str, ...]
    type: type
    meta: typing.Mapping[str, Any]


def leaves(cls: type, prefix: tuple[str, ...] = ()) -> list[Leaf]:
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            found += leaves(hints[f.name], (*prefix, f.name))
        else:
            found.append(Leaf((*prefix, f.name), hints[f.name], f.metadata))
    return found


LEAVES = leaves(Config)
TABLES = sorted({leaf.path[:i] for leaf in LEAVES for i in range(1, len(leaf.path))})

# ---- values

dates = st.dates() | st.datetimes() | st.times()
scalars = st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | dates
anything = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
huge = st.integers(min_value=2**63).map(lambda n: n * 10**30)  # past TOML's 64 bits and any float


def good_value(leaf: Leaf) -> st.SearchStrategy:
    low, high, choices = leaf.meta["min"], leaf.meta["max"], leaf.meta["choices"]
    if leaf.type is bool:
        return st.booleans()
    if choices:
        return st.sampled_from(choices)
    if leaf.type is str:
        return st.text(max_size=30)
    if leaf.type is int:
        return st.integers(low, high)
    if math.ceil(low) > math.floor(high):
        return st.floats(low, high)
    return st.floats(low, high) | st.integers(math.ceil(low), math.floor(high))  # an int is a fine number


def bad_value(leaf: Leaf) -> st.SearchStrategy:
    low, high, choices = leaf.meta["min"], leaf.meta["max"], leaf.meta["choices"]
    others = {bool: st.integers() | st.text(max_size=10) | st.floats(),
              str: st.booleans() | st.integers() | st.floats() | dates,
              int: st.booleans() | st.floats() | st.text(max_size=10),
              float: st.booleans() | st.text(max_size=10) | dates}[leaf.type]
    wrong = others | st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=8), scalars, max_size=2)
    if choices:
        return wrong | st.text(max_size=20).filter(lambda s: s not in choices)
    if leaf.type in (int, float):
        out = (st.integers(max_value=math.ceil(low) - 1) | st.integers(min_value=math.floor(high) + 1) | huge
               | st.integers(min_value=-(2**80), max_value=-(2**63)))
        if leaf.type is float:
            out |= st.floats(max_value=low, exclude_max=True) | st.floats(min_value=high, exclude_min=True)
            out |= st.sampled_from([math.nan, -math.nan])
        return wrong | out
    return wrong


# ---- documents: a nested dict, and the dotted names whose values are bad


@st.composite
def documents(draw) -> tuple[dict, set[str]]:
    doc: dict = {}
    bad: set[str] = set()
    for leaf in draw(st.lists(st.sampled_from(LEAVES), unique_by=lambda leaf: leaf.path, max_size=8)):
        is_bad = draw(st.integers(0, 5)) == 0
        table = _table(doc, leaf.path[:-1])
        table[leaf.path[-1]] = draw(bad_value(leaf) if is_bad else good_value(leaf))
        if is_bad:
            bad.add(".".join(leaf.path))
    if draw(st.integers(0, 5)) == 0:  # a table given as a scalar or an array
        path = draw(st.sampled_from(TABLES))
        _table(doc, path[:-1])[path[-1]] = draw(scalars | st.lists(scalars, max_size=2))
        bad = {name for name in bad if not name.startswith(".".join(path) + ".")} | {".".join(path)}
    if draw(st.integers(0, 5)) == 0:  # an unknown key, at the top or in one of the tables
        where = draw(st.sampled_from([(), *TABLES]))
        table = _table(doc, where) if _is_table_path(doc, where) else doc
        where = where if table is not doc else ()
        known = {f.name for f in dataclasses.fields(_section_type(where))}
        name = draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in known))
        table[name] = draw(anything)
        bad.add(".".join((*where, name)))
    return doc, bad


def _table(doc: dict, path: tuple[str, ...]) -> dict:
    for key in path:
        doc = doc.setdefault(key, {})
    return doc


def _is_table_path(doc: dict, path: tuple[str, ...]) -> bool:
    for key in path:
        doc = doc.get(key, {})
        if not isinstance(doc, dict):
            return False
    return True


def _section_type(path: tuple[str, ...]) -> type:
    cls: type = Config
    for key in path:
        cls = typing.get_type_hints(cls)[key]
    return cls


# ---- a TOML writer for those documents (tomllib only reads)


def to_toml(doc: dict) -> str:
    """Top-level tables as [headers], everything inside them inline."""
    scalars_first = [f"{_key(k)} = {_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    tables = [f"[{_key(k)}]\n" + "".join(f"{_key(kk)} = {_value(vv)}\n" for kk, vv in v.items())
              for k, v in doc.items() if isinstance(v, dict)]
    return "\n".join(scalars_first) + "\n" + "".join(tables)


def _key(key: str) -> str:
    return key if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key) else _string(key)


def _string(text: str) -> str:
    return '"' + "".join(c if " " <= c <= "~" and c not in '"\\' else f"\\U{ord(c):08X}" for c in text) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else {math.inf: "inf", -math.inf: "-inf"}.get(value, repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"


# ---- the properties


def load_or_error(path: Path) -> Config | str:
    """The Config, or the ConfigError's message after checking it is one line that names the file."""
    try:
        config = load_config(path)
    except ConfigError as error:
        message = str(error)
        assert len(message.splitlines()) == 1 and message.startswith(f"{path}: "), message
        assert len(message) < 500, message
        return message
    assert isinstance(config, Config)
    # a loaded config is valid: it renders to TOML that loads back to the very same values (NaN never would)
    again = path.with_name("rendered.toml")
    again.write_text(render_toml(config), encoding="utf-8")
    assert load_config(again) == config, render_toml(config)
    return config


@FUZZ
@given(documents())
def test_schema_documents_load_exactly_or_name_a_bad_key(tmp_path, case):
    doc, bad = case
    path = tmp_path / "config.toml"
    path.write_text(to_toml(doc), encoding="utf-8")
    outcome = load_or_error(path)
    if bad:
        assert isinstance(outcome, str), f"accepted bad keys {bad}: {to_toml(doc)}"
        assert any(repr(name)[:30] in outcome for name in bad), (outcome, bad)  # a long name may be cut short
        return
    assert isinstance(outcome, Config), outcome
    for leaf in LEAVES:
        expected = _lookup(doc, leaf.path)
        actual = _lookup(dataclasses.asdict(outcome), leaf.path)
        if expected is None:
            assert actual == _lookup(dataclasses.asdict(Config()), leaf.path)
        else:
            assert actual == expected and type(actual) is leaf.type, (leaf.path, actual, expected)


def _lookup(tree: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        tree = tree.get(key) if isinstance(tree, dict) else None
    return tree


# Each whole line: a key with a huge, endless or deeply nested value, or a key with a line break in its name.
LINES = ["x = nan", "x = 1e999", "x = " + "9" * 400, "x = " + "1" * 5000, "x = " + "[" * 3000, "x = " + "{a=" * 3000,
         '"a\\rb" = 1', '"\\u2028" = 1']
TOML_BITS = st.sampled_from(list('[]{}=".\'#,\n\\ ') + ["[[", "]]", '"""', "'''", "\x00", "\x7f", "\u2028", "é"]
                            + [f"\n{line}\n" for line in LINES])


@FUZZ
@given(st.lists(st.tuples(st.floats(0, 1), st.integers(0, 20), TOML_BITS | st.text(max_size=5)), min_size=1,
                max_size=6))
def test_mangled_config_toml_is_a_config_or_one_line_error(tmp_path, edits):
    """The documented config.toml with characters cut out and TOML punctuation, huge numbers, deep nesting put in."""
    text = render_toml()
    for where, cut, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut:]
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    load_or_error(path)


@FUZZ
@given(st.binary(max_size=200) | st.builds(lambda at, byte: (at, byte), st.floats(0, 1), st.integers(0x80, 0xFF)))
def test_raw_bytes_and_non_utf8_are_a_config_or_one_line_error(tmp_path, data):
    if isinstance(data, tuple):  # a stray Latin-1 byte inside an otherwise good file
        good = render_toml().encode()
        at = int(data[0] * len(good))
        data = good[:at] + bytes([data[1]]) + good[at:]
    path = tmp_path / "config.toml"
    path.write_bytes(data)
    load_or_error(path)


@pytest.mark.parametrize(("text", "expected"), [
    ("[llm]\ntemperature = nan\n", "'llm.temperature' must be between 0 and 2, got nan"),
    ("[llm]\ntemperature = " + "9" * 400 + "\n", "'llm.temperature' must be between 0 and 2, got 999"),
    ("[vad]\nhangover_ms = " + "1" * 5000 + "\n", "invalid TOML: a number is too long"),
    ("a = " + "[" * 5000 + "\n", "invalid TOML: nested too deeply"),
    ('[stt]\n"mo\\ndel" = 1\n', r"unknown key 'stt.mo\ndel'"),
    ("[tts]\nengine = '" + "x" * 10_000 + "'\n", "'tts.engine' must be one of 'auto', 'kokoro', 'piper', got 'xxx"),
])
def test_what_the_fuzzing_found(tmp_path, text, expected):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    message = load_or_error(path)
    assert isinstance(message, str) and expected in message, message


def test_a_config_file_that_is_not_utf8_says_so(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes('[stt]\nmodel = "café"\n'.encode("latin-1"))
    message = load_or_error(path)
    assert isinstance(message, str) and "not UTF-8" in message and "hint: save it as UTF-8" in message, message
