"""Name -> class registries for plug-ins (detectors, formats, rewriters, eval tasks, backends)."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Classes registered by name. Third-party plug-ins come from the entry-point group
    ``aligntax.<kind>`` or from a ``module:Class`` reference given at run time."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, type[T]] = {}
        self._entry_points_loaded = False

    def register(self, name: str | None = None) -> Callable[[type[T]], type[T]]:
        def deco(cls: type[T]) -> type[T]:
            key = name or getattr(cls, "name")
            if key in self._items and self._items[key] is not cls:
                raise ValueError(f"{self.kind} {key!r} is already registered by {self._items[key]!r}")
            self._items[key] = cls
            return cls

        return deco

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=f"aligntax.{self.kind}"):
            self._items.setdefault(ep.name, ep.load())

    def get(self, name: str) -> type[T]:
        if ":" in name:  # module:Class reference to a user's own plug-in
            module, _, attr = name.partition(":")
            return getattr(importlib.import_module(module), attr)
        if name not in self._items:
            self._load_entry_points()
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items
