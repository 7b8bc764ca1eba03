"""A tool is an async function with type hints and a docstring; its JSON schema is read from those.

    async def roll_dice(sides: int = 6) -> str:
        \"\"\"Roll a die and say the number.

        Args:
            sides: how many sides the die has
        \"\"\"

The first paragraph of the docstring describes the tool; the `Args:` lines describe its parameters. Parameters may
be `str`, `int`, `float`, `bool` or a `Literal[...]` of strings; one without a default is required. Arguments are
checked against the hints before the call, so a bad one is a `ToolError` naming it, never a crash inside the tool.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from assistant.core.tooling import ToolError

ToolFunction = Callable[..., Awaitable[str]]

_JSON_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_SAID: dict[Any, str] = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: Any  # str, int, float, bool, or a tuple of allowed strings (a Literal)
    description: str
    required: bool

    def schema(self) -> dict[str, Any]:
        if isinstance(self.kind, tuple):
            return {"type": "string", "enum": list(self.kind), "description": self.description}
        return {"type": _JSON_TYPES[self.kind], "description": self.description}

    def check(self, tool: str, value: Any) -> Any:
        """The value as the function expects it; numbers given as text ("10") are accepted, as models send them."""
        kind = self.kind
        if isinstance(kind, tuple):
            if value in kind:
                return value
            raise ToolError(f"{tool}: '{self.name}' must be one of {', '.join(kind)}, got {value!r}")
        if kind in (int, float) and isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise ToolError(f"{tool}: '{self.name}' must be {_SAID[kind]}, got {value!r}") from None
        if kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, int | float if kind is float else kind):
            raise ToolError(f"{tool}: '{self.name}' must be {_SAID[kind]}, got {value!r}")
        return float(value) if kind is float else value


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: tuple[Parameter, ...]
    function: ToolFunction

    def schema(self) -> dict[str, Any]:
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": {"type": "object",
                           "properties": {p.name: p.schema() for p in self.parameters},
                           "required": [p.name for p in self.parameters if p.required]}}}

    async def __call__(self, arguments: Mapping[str, Any]) -> str:
        if not isinstance(arguments, Mapping):
            raise ToolError(f"{self.name}: arguments must be an object, got {arguments!r}")
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(arguments) - set(known))
        if unknown:
            raise ToolError(f"{self.name}: unknown argument {unknown[0]!r} (it takes: {', '.join(known) or 'none'})")
        missing = [p.name for p in self.parameters if p.required and p.name not in arguments]
        if missing:
            raise ToolError(f"{self.name}: missing argument {missing[0]!r}")
        checked = {name: known[name].check(self.name, value) for name, value in arguments.items()}
        return await self.function(**checked)


def make_tool(function: ToolFunction) -> Tool:
    """The tool described by `function`'s name, hints and docstring. A function that cannot be described (no
    docstring, an untyped or unsupported parameter) is a `TypeError` naming it: a bug, found at startup."""
    name = function.__name__
    if not inspect.iscoroutinefunction(function):
        raise TypeError(f"tool {name}: must be an async function")
    doc = inspect.getdoc(function)
    if not doc:
        raise TypeError(f"tool {name}: needs a docstring (it is the tool's description)")
    description, arg_docs = _read_docstring(doc)
    hints = typing.get_type_hints(function)
    parameters = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name not in hints:
            raise TypeError(f"tool {name}: parameter '{parameter.name}' needs a type hint")
        parameters.append(Parameter(parameter.name, _kind(name, parameter.name, hints[parameter.name]),
                                    arg_docs.get(parameter.name, ""), parameter.default is inspect.Parameter.empty))
    return Tool(name, description, tuple(parameters), function)


def _kind(tool: str, parameter: str, hint: Any) -> Any:
    if typing.get_origin(hint) is typing.Literal and all(isinstance(v, str) for v in typing.get_args(hint)):
        return typing.get_args(hint)
    if hint in _JSON_TYPES:
        return hint
    if isinstance(hint, types.UnionType):
        raise TypeError(f"tool {tool}: parameter '{parameter}' may not be a union (give it a default instead)")
    raise TypeError(f"tool {tool}: parameter '{parameter}' has unsupported type {hint!r}")


def _read_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The first paragraph (joined into one line), and `name: description` lines under `Args:`."""
    paragraphs = doc.split("\n\n")
    description = " ".join(paragraphs[0].split())
    args: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
        elif in_args and ":" in stripped:
            key, _, text = stripped.partition(":")
            args[key.strip()] = text.strip()
        elif in_args and not stripped:
            in_args = False
    return description, args
