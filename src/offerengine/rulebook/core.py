"""Seed 001's business rules: one shape for every kind of rule, mapped onto each kind's own.

Seed 001 keeps every rule in one table, ``{rule_type, rule_name, rule_config, priority,
is_active, valid_from, valid_until}``, where ``rule_config`` holds what the kind of rule needs (a
pricing rule's conditions and adjustments, an offer rule's mix). We keep each kind in a shape of
its own. A :class:`Shape` says how one kind maps, and:

1. :func:`flatten` turns a seed-shaped body into the kind's own input: ``rule_config``'s fields,
   then the top-level fields the kind has, under its own names (``rule_name`` is a bundle's
   ``bundle_name``), then the kind's defaults for what the seed never says (a pricing rule's
   own type, ``CUSTOM``). A top-level field the kind has no place for, a field given both at the
   top and in ``rule_config`` with two values, or another ``rule_type``, is an error saying what
   to send instead;
2. :func:`relocate` puts each of the kind's validation errors where the client sent the field
   (``["rule_config", "adjustments", "value"]``, or ``["rule_name"]``);
3. :func:`split` turns the kind's input back into the top-level fields and ``rule_config``, so
   that what a read shows can be sent back as it is;
4. :func:`seed_shape` does (1) and (2) in a kind's input model's wrap validator, so that the
   kind's own routes take the seed's shape beside theirs.

Pure: no storage, no web framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any, get_args

from pydantic import ValidationError, ValidatorFunctionWrapHandler
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError, core_schema

from offerengine.errors import FieldError, Loc

# The seed's top-level fields besides rule_type and rule_config, in its order.
TOP_LEVEL = ("rule_name", "priority", "is_active", "valid_from", "valid_until")
SEED_FIELDS = ("rule_type", *TOP_LEVEL[:1], "rule_config", *TOP_LEVEL[1:])


@dataclass(frozen=True, slots=True)
class Shape:
    """How one kind of rule maps onto seed 001's business rule shape."""

    rule_type: str  # the seed's word for the kind: PRICING, BUNDLING, INVENTORY, OFFER …
    what: str  # to people: "pricing rule"
    fields: Mapping[str, str]  # seed top-level field → the kind's field, for those it has
    defaults: Mapping[str, Any] = field(default_factory=dict)  # what the seed never says
    keep: tuple[str, ...] = ("version",)  # the kind's own fields also taken at the top level

    def has(self, seed_field: str) -> bool:
        return seed_field in self.fields


def is_seed_shaped(data: Any) -> bool:
    """Whether ``data`` is seed 001's business rule shape (it has ``rule_config``)."""
    return isinstance(data, Mapping) and "rule_config" in data


def flatten(
    data: Mapping[str, Any], shape: Shape
) -> tuple[dict[str, Any], dict[str, Loc], list[FieldError]]:
    """The kind's input from a seed-shaped body, where each of its fields was sent, and the
    errors of the seed shape itself (locations relative to the body)."""
    errors: list[FieldError] = []
    given = data.get("rule_type", shape.rule_type)
    if given != shape.rule_type:
        errors.append(
            FieldError(
                ("rule_type",),
                f"this is {_a(shape.what)}: send rule_type {shape.rule_type!r} (or leave it out), "
                f"not {given!r}",
            )
        )
    config = data.get("rule_config")
    if not isinstance(config, Mapping):
        errors.append(
            FieldError(
                ("rule_config",),
                f"rule_config is an object of the {shape.what}'s own fields",
                "dict_type",
            )
        )
        config = {}
    flat: dict[str, Any] = dict(shape.defaults)
    origin: dict[str, Loc] = {}
    for name, value in config.items():
        flat[name] = value
        origin[name] = ("rule_config", name)
    for name, value in data.items():
        if name in ("rule_type", "rule_config"):
            continue
        target = name if name in shape.keep else shape.fields.get(name)
        if target is None:
            errors.append(FieldError((name,), _no_place(name, shape), "extra_forbidden"))
            continue
        if target in origin and flat[target] != value:
            errors.append(
                FieldError(
                    (name,),
                    f"{name} is also in rule_config (as {target}) with another value: send it once",
                )
            )
            continue
        flat[target] = value
        origin[target] = (name,)
    return flat, origin, errors


def _no_place(name: str, shape: Shape) -> str:
    if name in TOP_LEVEL:
        return f"{_a(shape.what)} has no {name}: leave it out"
    taken = ", ".join(f for f in SEED_FIELDS if f in ("rule_type", "rule_config") or shape.has(f))
    return f"not a field of seed 001's rule shape; {_a(shape.what)} takes {taken}"


def _a(what: str) -> str:
    return f"{'an' if what[0] in 'aeiou' else 'a'} {what}"


def relocate(loc: Loc, origin: Mapping[str, Loc], shape: Shape) -> Loc:
    """Where the client sent (or should have sent) the kind's field at ``loc``: as sent; else a
    top-level field's place at the top (a missing ``rule_name``); else in ``rule_config``."""
    first = loc[0] if loc else None
    if isinstance(first, str) and first in origin:
        return (*origin[first], *loc[1:])
    seed = next((seed for seed, own in shape.fields.items() if own == first), None)
    if seed is not None:
        return (seed, *loc[1:])
    return ("rule_config", *loc)


def split(values: Mapping[str, Any], shape: Shape) -> tuple[dict[str, Any], dict[str, Any]]:
    """The kind's input as the seed's top-level fields (those the kind has) and ``rule_config``
    (the rest)."""
    top = {seed: values.get(own) for seed, own in shape.fields.items()}
    config = {k: v for k, v in values.items() if k not in shape.fields.values()}
    return top, config


def seed_shape(shape: Shape, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Validate ``data`` with a kind's input model (``handler``, in its wrap validator), taking
    seed 001's shape too; any other input is validated as it is::

        @model_validator(mode="wrap")
        @classmethod
        def _seed(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
            return rulebook.seed_shape(rulebook.PRICING, data, handler)
    """
    if not is_seed_shaped(data):
        return handler(data)
    flat, origin, errors = flatten(data, shape)
    if errors:
        raise ValidationError.from_exception_data(
            shape.what, [custom_error(e.loc, e.msg, data) for e in errors]
        )
    try:
        return handler(flat)
    except ValidationError as exc:
        raise ValidationError.from_exception_data(
            exc.title,
            [line_error(e, relocate(tuple(e["loc"]), origin, shape)) for e in exc.errors()],
        ) from None


@cache
def _builtin_types() -> frozenset[str]:
    return frozenset(get_args(core_schema.ErrorType))


def line_error(error: ErrorDetails, loc: Loc | None = None) -> InitErrorDetails:
    """A pydantic error as it can be raised again, at ``loc``: the same type, words and context
    for pydantic's own errors (so that whoever words them later still can)."""
    where = tuple(error["loc"]) if loc is None else loc
    if error["type"] not in _builtin_types():
        return custom_error(where, error["msg"], error["input"])
    found: InitErrorDetails = {"type": error["type"], "loc": where, "input": error["input"]}
    if "ctx" in error:
        found["ctx"] = error["ctx"]
    return found


def custom_error(loc: Loc, msg: str, data: Any) -> InitErrorDetails:
    """An error of our words, as pydantic raises it: a ``value_error``, whose words are kept as
    they are (pydantic's own types, ``missing`` …, are reworded by type)."""
    return {
        "type": PydanticCustomError("value_error", "{msg}", {"msg": msg}),
        "loc": loc,
        "input": data,
    }


def _same_names(*names: str) -> dict[str, str]:
    return {name: name for name in names}


# Every kind of rule the engine keeps, in the seed's words where it has one (PRICING, BUNDLING,
# INVENTORY, OFFER) and in ours where it has none (seed 002's fee rules and commission rates).
PRICING = Shape(
    "PRICING",
    "pricing rule",
    _same_names(*TOP_LEVEL),
    # Seed 001's business rule says PRICING only; our pricing rules also have a type of their
    # own (DEMAND, TIME …), which a rule_config may give and is otherwise CUSTOM.
    defaults={"rule_type": "CUSTOM"},
)
BUNDLING = Shape(
    "BUNDLING",
    "bundle template",
    {"rule_name": "bundle_name", "priority": "priority", "is_active": "is_active"},
)
INVENTORY = Shape("INVENTORY", "inventory rule", {"is_active": "is_active"})
OFFER = Shape("OFFER", "offer rule", {"rule_name": "rule_name"})
FEE = Shape(
    "FEE",
    "fee rule",
    {
        "rule_name": "name",
        "priority": "priority",
        "is_active": "is_active",
        "valid_from": "effective_from",
        "valid_until": "effective_to",
    },
)
COMMISSION = Shape("COMMISSION", "commission rate", FEE.fields)
SHAPES: Mapping[str, Shape] = MappingProxyType(
    {s.rule_type: s for s in (PRICING, BUNDLING, INVENTORY, OFFER, FEE, COMMISSION)}
)
