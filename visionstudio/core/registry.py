"""Registries map stable string keys to specs (layers, losses, datasets, ...).

Keys are written into project files, so they never change; a renamed kind keeps its
old key as an alias so files written by older versions still load.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownKeyError(KeyError):
    """A key that is neither registered nor an alias; the message lists what exists."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want plain text
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._categories: dict[str, str] = {}

    def register(
        self, key: str, item: T, *, category: str = "", aliases: tuple[str, ...] = ()
    ) -> T:
        if key in self._items or key in self._aliases:
            raise ValueError(f"{self.what} key {key!r} is already registered")
        self._items[key] = item
        self._categories[key] = category
        for alias in aliases:
            if alias in self._items or alias in self._aliases:
                raise ValueError(f"{self.what} alias {alias!r} is already registered")
            self._aliases[alias] = key
        return item

    def canonical(self, key: str) -> str:
        if key in self._items:
            return key
        if key in self._aliases:
            return self._aliases[key]
        known = ", ".join(sorted(self._items))
        raise UnknownKeyError(f"unknown {self.what} {key!r} (known: {known})")

    def get(self, key: str) -> T:
        return self._items[self.canonical(key)]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in self._items or key in self._aliases)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[str]:
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())

    def category(self, key: str) -> str:
        return self._categories[self.canonical(key)]

    def by_category(self) -> dict[str, list[str]]:
        """Keys grouped by category, in registration order (the palette's order)."""
        groups: dict[str, list[str]] = {}
        for key in self._items:
            groups.setdefault(self._categories[key], []).append(key)
        return groups
