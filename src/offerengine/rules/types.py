"""The types of the rules language."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Type:
    name: str  # number string boolean date datetime list map any null
    item: Type | None = None  # element type of a list, value type of a map (keyed by strings)

    def __str__(self) -> str:
        return (
            f"{self.name}<{self.item}>" if self.name in ("list", "map") and self.item else self.name
        )

    def accepts(self, other: Type) -> bool:
        """Whether a value of type ``other`` may stand where this type is expected."""
        if ANY in (self, other) or other == NULL:
            return True
        if self.name == "list" and other.name == "list":
            return self.item is None or other.item is None or self.item.accepts(other.item)
        return self.name == other.name


NUMBER = Type("number")
STRING = Type("string")
BOOLEAN = Type("boolean")
DATE = Type("date")
DATETIME = Type("datetime")
ANY = Type("any")
NULL = Type("null")


def list_of(item: Type | None) -> Type:
    return Type("list", item)


def map_of(item: Type) -> Type:
    """Values by string key, read as ``fact['key']``."""
    return Type("map", item)


ORDERED = frozenset({"number", "string", "date", "datetime"})
