"""YAML from files a user may have edited or crafted (configs, layouts, ``--set`` values), with bounds.

``yaml.safe_load`` builds only plain data, but two small inputs still cost without limit: aliases
(``*a``) that repeat an anchored node whose own items are aliases (a 500-byte "billion laughs" file
expands to billions of items for whatever walks it next: a repr, a deep copy, a validation pass), and
deep nesting (PyYAML's composer recurses once per level: 20,000 levels end in RecursionError).
:func:`load_yaml` counts the nodes every alias expands to and the nesting depth while composing, and
refuses past :data:`MAX_ALIAS_NODES` / :data:`MAX_DEPTH` (and an alias of a node it sits inside, which
would make a list that contains itself). Ordinary anchors (reusing a model.args block) load unchanged.
"""

from __future__ import annotations

import yaml

MAX_DEPTH = 64  # a config nests 3-4 levels, a layout 3
MAX_ALIAS_NODES = 10_000  # nodes all aliases of one document may repeat, counted expanded


class YAMLBoundsError(yaml.YAMLError):
    """A YAML document over the alias-expansion or nesting bounds (a yaml.YAMLError, so callers that
    report malformed YAML report this too)."""


def _node_size(node, sizes: dict) -> int:
    """Nodes in ``node``'s subtree counted as if every alias were expanded (memoised per node, so a
    chain of aliases of aliases costs one visit per distinct node)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_node_size(item, sizes) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_node_size(k, sizes) + _node_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = size
    return size


class BoundedSafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader whose composer bounds alias expansion and nesting depth."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._expanded = 0
        self._sizes: dict = {}
        self._open_anchors: set = set()

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._count_alias(event)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            line = event.start_mark.line + 1
            raise YAMLBoundsError(f"nested more than {MAX_DEPTH} levels deep (line {line})")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open_anchors.discard(anchor)

    def _count_alias(self, event) -> None:
        line = event.start_mark.line + 1
        if event.anchor in self._open_anchors:
            raise YAMLBoundsError(f"alias *{event.anchor} (line {line}) sits inside the node it names: a "
                                  "value that contains itself")
        node = self.anchors.get(event.anchor)
        if node is None:
            return  # PyYAML's own error: "found undefined alias"
        self._expanded += _node_size(node, self._sizes)
        if self._expanded > MAX_ALIAS_NODES:
            raise YAMLBoundsError(
                f"aliases expand to more than {MAX_ALIAS_NODES} values (line {line}: *{event.anchor}); "
                "write the values out instead of nesting aliases of aliases"
            )


def load_yaml(text: str):
    """``yaml.safe_load(text)`` with the bounds above; a yaml.YAMLError for malformed or over-bound text."""
    loader = BoundedSafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
