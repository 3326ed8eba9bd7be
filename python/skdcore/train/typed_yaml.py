"""Typed YAML configs: a YAML mapping read into nested dataclasses, every value checked against its field's
type annotation, every wrong key or value one line of a ConfigError naming its full key path.

The engine behind ``train/config.py`` (which holds the experiment schema): it knows dataclasses, type
annotations and YAML, nothing of experiments. ``--set a.b=value`` overrides go through the same checks.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, TypeVar, Union

import yaml

from ..did_you_mean import did_you_mean
from ..safe_yaml import load_yaml as parse_bounded_yaml
from ..short_repr import short_repr

T = TypeVar("T")
EMPTY: Mapping = {}
# Sections an override replaces key by key without merging deeper (a model's own arguments)
FLAT_SECTIONS = ("args",)


class ConfigError(ValueError):
    """A config key or value is invalid; the message names the key and the valid choices (one line per
    wrong value)."""


def get_path(config, key: str):
    """config.a.b for key 'a.b'."""
    for part in key.split("."):
        config = getattr(config, part)
    return config


def raise_errors(errors: list) -> None:
    """One ConfigError holding every line of ``errors`` (none: nothing)."""
    if errors:
        raise ConfigError("\n".join(errors) if len(errors) == 1 else
                          f"{len(errors)} invalid config values:\n  " + "\n  ".join(errors))


def check_choice(key: str, value: Any, choices: tuple, errors: list) -> None:
    if value not in choices:
        errors.append(f"{key}: {value!r} is not valid; choose one of {list(choices)}")


def check_at_least(key: str, value, low, errors: list) -> None:
    if value < low:
        kind = "a positive integer" if low == 1 else "a number >= 0"
        errors.append(f"{key} must be {kind}, got {value!r}")


# --------------------------------------------------------------------------- types from annotations
_TYPE_NAMES = {bool: "a boolean (true/false)", int: "an integer", float: "a number", str: "a string",
               dict: "a mapping", list: "a list", tuple: "a list"}


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is Union:
        names = [_type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in typing.get_args(annotation) else "")
    if origin in (list, tuple) and typing.get_args(annotation):
        item = _type_name(typing.get_args(annotation)[0]).removeprefix("a ").removeprefix("an ")
        return f"a list of {item}s"
    return _TYPE_NAMES.get(origin or annotation, getattr(annotation, "__name__", str(annotation)))


def _describe(value) -> str:
    return f"{short_repr(value)} ({type(value).__name__})" if value is not None else "null"


def check_type(key: str, value, annotation, errors: list, choices: Mapping = EMPTY):
    """``value`` as the annotated type, or the value unchanged with one line appended to ``errors``.

    bool / int / float / str / dict / list / tuple / Optional / Any, the only types configs use. Floats
    take integers, and strings in float syntax (YAML 1.1 reads ``1e-3`` as a string); a string mode
    whose choices include off (and on) takes YAML's booleans and 'true'/'false'. ``choices``: {key: the
    allowed strings}, named in the error.
    """
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin is Union:
        if value is None and type(None) in typing.get_args(annotation):
            return None
        for inner in (a for a in typing.get_args(annotation) if a is not type(None)):
            probe: list = []
            out = check_type(key, value, inner, probe, choices)
            if not probe:
                return out
        errors.append(f"{key}: {_describe(value)} is not {_type_name(annotation)}")
        return value
    options = choices.get(key)
    if annotation is str and options and "off" in options and isinstance(value, (bool, str)):
        # YAML 1.1 reads off / on as booleans; 'on' only where it is a choice (train.amp has none)
        booleans = {False: "off", "false": "off", **({True: "on", "true": "on"} if "on" in options else {})}
        value = booleans.get(value, value)
    ok, out = _convert(value, origin or annotation)
    if ok and origin in (list, tuple) and typing.get_args(annotation):  # each wrong item is its own line
        item_type = typing.get_args(annotation)[0]
        return type(out)(check_type(f"{key}[{i}]", v, item_type, errors, choices)
                         for i, v in enumerate(out))
    if not ok:
        allowed = f"; choose one of {list(options)}" if options else ""
        errors.append(f"{key}: {_describe(value)} is not {_type_name(annotation)}{allowed}")
    return out if ok else value


def _convert(value, kind) -> tuple:
    """(ok, value as ``kind``) for the plain kinds of config fields."""
    if kind is bool:
        return isinstance(value, bool), value
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return False, value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False, value
        return True, float(value)
    if kind in (list, tuple):
        return isinstance(value, (list, tuple)), kind(value) if isinstance(value, (list, tuple)) else value
    if kind in (str, dict):
        return isinstance(value, kind), value
    return True, value  # a type this checker does not know: left to the dataclass


def from_dict(cls, values: dict, choices: Mapping = EMPTY, prefix: str = "",
              errors: Optional[list] = None):
    """The dataclass ``cls`` (nested dataclass fields are sections) from ``values``, every value checked
    against its field's annotation; every wrong key or value is one line of one ConfigError."""
    top = errors is None
    errors = [] if top else errors
    if not isinstance(values, dict):
        hint = " (a YAML list at the top of the file?)" if not prefix else ""
        errors.append(f"{prefix.rstrip('.') or 'the config'} must be a mapping of keys to values, got "
                      f"{type(values).__name__}{hint}")
        raise_errors(errors)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            errors.append(f"unknown config key '{prefix}{key}'{did_you_mean(key, fields)}; valid keys of "
                          f"{prefix.rstrip('.') or 'the top level'}: {sorted(fields)}")
            continue
        factory = fields[key].default_factory
        if isinstance(factory, type) and dataclasses.is_dataclass(factory):  # a nested section
            if value is not None and not isinstance(value, dict):
                errors.append(f"{prefix}{key} must be a section (a mapping of keys to values), got "
                              f"{_describe(value)}")
                continue
            kwargs[key] = from_dict(factory, value or {}, choices, f"{prefix}{key}.", errors)
        else:
            kwargs[key] = check_type(f"{prefix}{key}", value, hints[key], errors, choices)
    if top:
        raise_errors(errors)
    return cls(**kwargs)


def load_yaml(build: Callable[[dict], T], path: Union[str, Path, None] = None,
              overrides: Optional[list] = None, values: Optional[dict] = None) -> T:
    """``build`` of a YAML file's mapping (or of ``values`` alone), ``values`` and ``a.b=value`` overrides
    merged on top; a ConfigError names the file."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file {path} not found")
        if path.is_dir():
            raise ConfigError(f"config {path} is a directory; pass an experiment YAML file or a shipped "
                              "config's name, e.g. demo_teacher (`skd configs` lists them)")
        try:
            data = parse_bounded_yaml(path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from None
        except OSError as error:
            raise ConfigError(f"config {path} cannot be read: {error.strerror or error}") from None
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the config must be a mapping of keys to values, got a "
                              f"{type(data).__name__} "
                              "(a YAML list at the top of the file?)")
    if values:
        data = _merge(data, values)
    for text in overrides or []:
        keys, value = _parse_override(text)
        data = _merge(data, _nest(keys, value))
    try:
        return build(data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}" if path is not None else str(error)) from None


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value (e.g. optim.lr=0.05)")
    key, raw = text.split("=", 1)
    try:
        return key.strip().split("."), parse_bounded_yaml(raw)
    except yaml.YAMLError as error:
        problem = str(getattr(error, "problem", None) or error).splitlines()[0]
        raise ConfigError(f"--set {text!r}: the value is not valid YAML ({problem}); close its brackets / "
                          "quotes, e.g. --set 'optim.milestones=[30, 40]'") from None


def _nest(keys: list, value) -> dict:
    for key in reversed(keys):
        value = {key: value}
    return value


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in FLAT_SECTIONS:
            out[key] = _merge(out[key], value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out
