"""A bounded, strict YAML loader for recipes and lock files.

``yaml.safe_load`` runs no code, but it accepts inputs that hang or mislead us:

- an alias "bomb" (a 1 KB file whose aliases expand to 10^9 leaves) is cheap to load
  but not to walk, validate or print: the *expanded* size is bounded before use;
- a self-referencing alias (``&a [*a]``) or deep nesting made our walks raise
  ``RecursionError``: cycles are refused and the depth is bounded (``[[[...`` on the raw
  text first: PyYAML's scanner takes time quadratic in bracket depth);
- a duplicated key silently kept the last value: it is refused;
- YAML 1.1 reads ``1e-2`` as a string: numbers in exponent form are read as floats
  (as YAML 1.2 and JSON do).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..errors import InputError

__all__ = ["MAX_DEPTH", "MAX_NODES", "RecipeLoader", "StrictLoader", "load_yaml"]

#: Most values (mapping keys, values and list items, aliases expanded) a document may hold.
MAX_NODES = 200_000
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 64

_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?)$""",
    re.VERBOSE,
)


class _Strict:
    """Refuses duplicate keys (mixed into a PyYAML ``SafeLoader``)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                first = seen[key].start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key_node.value!r} (first at line {first.line + 1}); the last one would silently win", key_node.start_mark
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


#: libyaml's parser when PyYAML was built with it (about 10x faster than the pure-Python one);
#: both hand the same node graph to the same Python constructor and resolver.
_FastSafe: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_Strict, _FastSafe):  # type: ignore[misc, valid-type]
    """``SafeLoader`` that refuses duplicate keys."""


class RecipeLoader(StrictLoader):
    """:class:`StrictLoader` that also reads ``1e-2`` as a float (what a recipe's author means)."""


class _PyStrictLoader(_Strict, yaml.SafeLoader):
    """The pure-Python twin of :class:`StrictLoader`: re-reads a malformed document for its clearer message."""


class _PyRecipeLoader(_PyStrictLoader):
    """The pure-Python twin of :class:`RecipeLoader`."""


for _cls in (RecipeLoader, _PyRecipeLoader):
    _cls.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
_PY_TWIN: dict[type, type] = {StrictLoader: _PyStrictLoader, RecipeLoader: _PyRecipeLoader}


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_bounds(root: yaml.Node, name: str, max_nodes: int, max_depth: int) -> None:
    """Expanded size, depth and cycles of the node graph, computed without recursion (shared nodes once)."""
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]

    def where(node: yaml.Node) -> str:
        return f"{name}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"

    while stack:
        node, done = stack.pop()
        nid = id(node)
        kids = _children(node)
        if done:
            active.discard(nid)
            size[nid] = 1 + sum(size[id(k)] for k in kids)
            height[nid] = 1 + max((height[id(k)] for k in kids), default=0)
            if size[nid] > max_nodes:
                raise InputError(f"{where(node)}: this value expands to more than {max_nodes} values (aliases expanded)",
                                 hint="a recipe is short; an alias repeated inside aliases multiplies its size")
            if height[nid] > max_depth:
                raise InputError(f"{where(node)}: values are nested more than {max_depth} levels deep", hint="flatten the structure")
            continue
        if nid in size:
            continue
        active.add(nid)
        stack.append((node, True))
        for k in kids:
            if id(k) in active:
                raise InputError(f"{where(k)}: an alias refers to a value that contains it (a recursive structure)", hint="aliases must not refer to themselves")
            if id(k) not in size:
                stack.append((k, False))
        if len(active) > max_depth:
            raise InputError(f"{where(node)}: values are nested more than {max_depth} levels deep", hint="flatten the structure")


_SPECIAL = re.compile(r"""[\[\]{}'"#]""")
_QUOTED = {"'": re.compile(r"'(?:[^']|'')*'"), '"': re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)}


def _check_flow_depth(text: str, name: str, max_depth: int) -> None:
    """Bound ``[``/``{`` nesting on the raw text, before PyYAML's scanner (quadratic in it) sees it.

    Quoted scalars and comments are skipped; a bracket inside a plain scalar may be
    counted, which can only make the bound stricter by that bracket.
    """
    depth, pos = 0, 0
    while (m := _SPECIAL.search(text, pos)) is not None:
        c, k = m.group(), m.start()
        prev = text[k - 1] if k else "\n"
        pos = k + 1
        if c == "#":
            if prev in " \t\n":
                end = text.find("\n", k)
                if end < 0:
                    return
                pos = end + 1
        elif c in "'\"":
            if prev in " \t\n[{,:-?":
                q = _QUOTED[c].match(text, k)
                if q is None:
                    return  # an unclosed quote: the parser reports it
                pos = q.end()
        elif c in "[{":
            depth += 1
            if depth > max_depth:
                line = text.count("\n", 0, k) + 1
                col = k - (text.rfind("\n", 0, k) + 1) + 1
                raise InputError(f"{name}:{line}:{col}: values are nested more than {max_depth} levels deep", hint="flatten the structure")
        else:
            depth = max(0, depth - 1)


def _reraise_from(loader_class: type, text: str) -> None:
    """Parse ``text`` again with ``loader_class``; its error, if it raises one, replaces the first."""
    loader = loader_class(text)
    try:
        loader.get_single_node()
    except RecursionError:
        return
    finally:
        loader.dispose()


def load_yaml(text: str, name: str = "<yaml>", *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH, loader_class: type[StrictLoader] = RecipeLoader) -> Any:
    """Parse one YAML document with ``loader_class`` after bounding its expanded size and depth.

    Lock files written by ``yaml.dump`` are read with :class:`StrictLoader` (YAML 1.1 scalars,
    as they were written); recipes with :class:`RecipeLoader`.

    YAML syntax errors propagate as ``yaml.YAMLError`` (callers format them with the
    line and column); size, depth and cycle problems are :class:`InputError`.
    """
    _check_flow_depth(text, name, max_depth)
    loader = loader_class(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise InputError(f"{name}: values are nested too deeply to read", hint=f"at most {max_depth} levels") from None
        except yaml.YAMLError:
            twin = _PY_TWIN.get(loader_class)
            if twin is not None and twin is not loader_class:
                _reraise_from(twin, text)  # libyaml's messages are terser (it does not name the bad character)
            raise
        if node is None:
            return None
        _check_bounds(node, name, max_nodes, max_depth)
        return loader.construct_document(node)
    finally:
        loader.dispose()
