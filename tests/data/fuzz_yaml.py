"""YAML mutators for the fuzz suite (:mod:`fuzz_readers`): skeleton layouts (``layout.yaml``) and experiment
configs (``config.yaml``), the YAML files users hand to skdcore. Beyond byte-level damage and type-confused
fields, every case kind aims at a bound: alias expansion (billion-laughs bombs of varying depth and
fan-out, merge keys of aliases), aliases of an enclosing node (a value that contains itself), deep
nesting (block and flow, up to 20,000 levels, also reached through aliases), and thousands of joints."""
from __future__ import annotations

import random

import yaml

LAYOUT = {"name": "upper5", "joint_names": ["pelvis", "spine", "neck", "left_hand", "right_hand"],
          "edges": [["pelvis", "spine"], ["spine", "neck"], ["neck", "left_hand"], ["neck", "right_hand"]],
          "center": "spine", "roles": {"spine_base": "pelvis", "spine_top": "neck"}}
CONFIG = {"name": "fuzz", "mode": "teacher", "seed": 3,
          "data": {"root": "/nonexistent/data", "batch_size": 8},
          "model": {"name": "shift_gcn", "args": {"channels": [8, 16], "strides": [1, 2]}},
          "optim": {"lr": 0.05, "epochs": 2, "milestones": [1]}}
CONFUSERS = [None, True, -1, 0, 2**70, 1e308, float("inf"), float("nan"), "", "x" * 10_000, [], {}, [[1, 2]],
             {"a": {"b": 1}}, list(range(3_000)), [f"j{i}" for i in range(3_000)]]


def _valid(kind: str) -> dict:
    return yaml.safe_load(yaml.safe_dump(LAYOUT if kind == "layout" else CONFIG))


def _field_paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _field_paths(value, prefix + (key,))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _field_paths(value, prefix + (i,))


def _set(tree, path, value):
    if not path:
        return value
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return tree


def alias_bomb(rng: random.Random, key: str) -> str:
    """``key`` set to an alias whose expansion is fan_out ** levels items (a few hundred bytes of text)."""
    levels, fan_out = rng.randint(3, 12), rng.randint(2, 10)
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * fan_out) + "]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * fan_out) + "]")
    if rng.random() < 0.3:  # merge keys: mappings of mappings of aliases
        lines = ["m0: &m0 {a: 1, b: 2, c: 3}"] + [
            f"m{level}: &m{level} {{" + ", ".join(f"k{i}: *m{level - 1}" for i in range(fan_out)) + "}"
            for level in range(1, levels)] + [f"x: {{<<: *m{levels - 1}}}"]
        return "\n".join(lines) + f"\n{key}: *m{levels - 1}\n"
    return "\n".join(lines) + f"\n{key}: *l{levels - 1}\n"


def deep_nesting(rng: random.Random, key: str) -> str:
    depth = rng.choice([70, 1_000, 20_000])
    style = rng.choice(["flow_list", "flow_map", "block", "alias"])
    if style == "flow_list":
        return f"{key}: " + "[" * depth + "1" + "]" * depth + "\n"
    if style == "flow_map":
        return f"{key}: " + "{a: " * depth + "1" + "}" * depth + "\n"
    if style == "block":
        depth = min(depth, 2_000)
        keys = "".join("  " * (i + 1) + f"k{i}:\n" for i in range(depth))
        return f"{key}:\n" + keys + "  " * (depth + 1) + "1\n"
    lines = ["d0: &d0 [1]"] + [f"d{i}: &d{i} [*d{i - 1}]" for i in range(1, min(depth, 300))]
    return "\n".join(lines) + f"\n{key}: *d{min(depth, 300) - 1}\n"


def self_reference(rng: random.Random, key: str) -> str:
    return rng.choice([f"{key}: &self [1, *self]\n", f"{key}: &self {{a: *self}}\n",
                       f"{key}: &self [[[*self]]]\n", f"{key}: &self {{<<: *self}}\n"])


def yaml_case(kind: str, rng: random.Random, valid: bytes) -> bytes:
    """One mutated ``kind`` ('layout' or 'config') YAML file."""
    attack = rng.choice(["bytes", "field", "field", "benign_alias", "bomb", "deep", "self", "joints"])
    if attack == "bytes":
        from fuzz_readers import mutate_bytes

        return mutate_bytes(rng, valid)
    tree = _valid(kind)
    if attack == "field":
        path = rng.choice([p for p in _field_paths(tree) if p])
        return yaml.safe_dump(_set(tree, path, rng.choice(CONFUSERS))).encode()
    if attack == "benign_alias":  # an ordinary anchor, reused: must keep loading
        if kind == "layout":
            return (b"name: upper5\njoint_names: [pelvis, spine, neck, left_hand, right_hand]\n"
                    b"edges: [[pelvis, &s spine], [*s, &n neck], [*n, left_hand], [*n, right_hand]]\n"
                    b"center: *s\n")
        return valid.replace(b"  batch_size: 8\n", b"  batch_size: &b 8\n  eval_batch_size: *b\n", 1)
    key = rng.choice(list(tree))
    del tree[key]
    head = yaml.safe_dump(tree).encode() if tree else b""
    if attack == "joints":
        count = rng.choice([1_001, 3_000])
        names = ", ".join(f"j{i}" for i in range(count))
        edges = ", ".join(f"[{i}, {i + 1}]" for i in range(count - 1))
        if kind == "layout":
            return f"joint_names: [{names}]\nedges: [{edges}]\n".encode()
        return head + f"{key}: {{joint_names: [{names}], edges: [{edges}]}}\n".encode()
    make = {"bomb": alias_bomb, "deep": deep_nesting, "self": self_reference}[attack]
    return head + make(rng, key).encode()


def layout_valid(tmp) -> bytes:
    return yaml.safe_dump(LAYOUT, sort_keys=False).encode()


def config_valid(tmp) -> bytes:
    return yaml.safe_dump(CONFIG, sort_keys=False).encode()


def layout_case(rng: random.Random, valid: bytes, marker: str) -> bytes:
    return yaml_case("layout", rng, valid)


def config_case(rng: random.Random, valid: bytes, marker: str) -> bytes:
    return yaml_case("config", rng, valid)
