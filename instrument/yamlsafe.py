"""The one YAML loader for every file the tool reads: instruments, maps, thresholds.

A safe loader (no Python objects) with bounds, so that a small hostile file cannot take the
machine: repeated keys are refused (the last would silently win), and so are files over
:data:`MAX_BYTES`, nesting deeper than :data:`MAX_DEPTH`, and documents whose aliases would
expand to more than :data:`MAX_NODES` nodes (a "billion laughs" is a few hundred bytes of
anchors that expand exponentially once anything walks the result).
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 4 << 20  # 4 MiB: an instrument of thousands of items is a few hundred kB
MAX_DEPTH = 64
MAX_NODES = 200_000


class YamlLimitError(ValueError):
    """A YAML text that is not valid, or past one of the bounds; the message is one line."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses repeated mapping keys."""


# libyaml's loader, where PyYAML was built with it: the toolkit's own item banks parse ten
# times faster (0.09 s of every command's start). Only for those: its composer recurses in C,
# where a hostile file nested deep enough would take the process down, not raise.
_OwnLoader: type[Any] = (
    type("_OwnLoader", (yaml.CSafeLoader,), {}) if hasattr(yaml, "CSafeLoader") else _BoundedLoader
)


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"repeated key {key!r}", mark)
        seen.add(key)
    return loader.construct_mapping(node)


for _loader in (_BoundedLoader, _OwnLoader):
    _loader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
    )


def _check_bounds(root: yaml.Node) -> None:
    """Depth and expanded size of the node graph, without expanding it: a node reached
    through several aliases counts once per path (memoised by identity)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = _children(node)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            if size[key] > MAX_NODES:
                raise YamlLimitError(
                    f"expands to more than {MAX_NODES:,} values (aliases nested in aliases)"
                )
            if depth[key] > MAX_DEPTH:
                raise YamlLimitError(f"nested more than {MAX_DEPTH} levels deep")
            continue
        if key in size:
            continue
        if key in on_path:
            raise YamlLimitError("an alias refers to itself")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)
        if len(on_path) > MAX_DEPTH:
            raise YamlLimitError(f"nested more than {MAX_DEPTH} levels deep")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(text: str, *, own: bool = False) -> Any:
    """Parse one YAML document within the bounds; raises :class:`YamlLimitError` with the
    line and column where the parser says, or which bound was passed. ``own``: a file the
    toolkit ships (its item banks), read by libyaml where there is one."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise YamlLimitError(f"larger than {MAX_BYTES >> 20} MiB")
    loader = (_OwnLoader if own else _BoundedLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_bounds(node)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise YamlLimitError(f"not valid YAML: {where}{exc.problem}") from None
    except yaml.YAMLError as exc:
        raise YamlLimitError(f"not valid YAML: {exc}") from None
    except RecursionError:
        raise YamlLimitError(f"nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()
