"""Command-line flags derived from typed config dataclasses.

A knob is declared once, as a field of a config dataclass (`config.option(default, help)`), and
each `bin/` command derives its flags from the configs it builds: name, type, default and
`--help` text all come from the field, so no field is copied by hand. The few flags that are
not config fields (where the model directory is, which file to write) are defined next to the
command that reads them (`training/cli.py`, `inference/cli.py`, ...).

This module is the bottom of the CLI layer: it imports no other part of the package.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from absl import flags

FLAGS = flags.FLAGS


def _field_type(cls: type, field: dataclasses.Field) -> Any:
    """The field's type; `T | None` gives T (the flag's default may then be None)."""
    kind = typing.get_type_hints(cls)[field.name]
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        options = set(typing.get_args(kind)) - {type(None)}
        if len(options) == 1:
            return options.pop()
    return kind


def define_config_flags(
    cls: type,
    *,
    only: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    defaults: Mapping[str, Any] | None = None,
    required: Iterable[str] = (),
    module_name: str | None = None,
) -> list[str]:
    """Defines one flag per field of the dataclass `cls`: `--<field>` with the field's type,
    default (or `defaults[field]`) and help text (`config.option`). Fields in `exclude`, or not
    in `only`, get no flag. A field whose flag another config already defined (e.g. `seed`,
    shared by the data and the training config) is skipped. Flags in `required` have no default
    and must be given. The flags belong to the calling
    module (or `module_name`), so `--help` lists them with that command's own. Returns the names
    defined."""
    module_name = module_name or sys._getframe(1).f_globals["__name__"]
    defaults = dict(defaults or {})
    only = None if only is None else set(only)
    required = set(required)
    unknown = (set(defaults) | (only or set()) | set(exclude) | required) - {
        field.name for field in dataclasses.fields(cls)
    }
    if unknown:
        raise ValueError(f"{cls.__name__} has no fields {sorted(unknown)}")
    defined = []
    for field in dataclasses.fields(cls):
        if field.name in exclude or (only is not None and field.name not in only):
            continue
        if field.name in FLAGS:
            continue
        help_text = field.metadata.get("help")
        if help_text is None:
            raise ValueError(f"{cls.__name__}.{field.name} has no help text (config.option)")
        if field.name in defaults:
            default = defaults[field.name]
        elif field.default is not dataclasses.MISSING:
            default = field.default
        else:
            default = field.default_factory()
        if field.name in required:
            default = None
        kind = _field_type(cls, field)
        kwargs = {"module_name": module_name}
        if "choices" in field.metadata:
            flags.DEFINE_enum(field.name, default, field.metadata["choices"], help_text, **kwargs)
        elif kind is bool:
            flags.DEFINE_boolean(field.name, default, help_text, **kwargs)
        elif kind is int:
            flags.DEFINE_integer(field.name, default, help_text, **kwargs)
        elif kind is float:
            flags.DEFINE_float(field.name, default, help_text, **kwargs)
        elif kind is str:
            flags.DEFINE_string(field.name, default, help_text, **kwargs)
        elif typing.get_origin(kind) is tuple:
            flags.DEFINE_list(field.name, [str(v) for v in default], help_text, **kwargs)
        else:
            raise TypeError(f"{cls.__name__}.{field.name}: no flag type for {kind}")
        defined.append(field.name)
    flags.mark_flags_as_required(sorted(required & set(defined)))
    return defined


def config_from_flags(
    cls: type,
    flag_values: flags.FlagValues = FLAGS,
    only: Iterable[str] | None = None,
    **overrides: Any,
):
    """An instance of the dataclass `cls` whose fields take the values of the flags of the same
    name (where such a flag exists; of the fields in `only`, if given), then `overrides`; the
    other fields keep their defaults."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name not in flag_values or (only is not None and field.name not in only):
            continue
        value = flag_values[field.name].value
        if typing.get_origin(_field_type(cls, field)) is tuple:
            (item,) = set(typing.get_args(_field_type(cls, field))) - {Ellipsis}
            value = tuple(item(v) for v in value or ())
        values[field.name] = value
    values.update(overrides)
    return cls(**values)
