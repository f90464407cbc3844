"""Named choices, kept in one place each: the :class:`Registry`.

Every choice a user makes by name (a backbone, an objective, an unlearning method, a
partition, an aggregation, a forgetting mode, a protocol, a solver, a profile, a data
set, an optimiser) is an entry of one registry. The registry dispatches (``MODELS["bpr"]``
is what builds BPR-MF), feeds the command line's ``choices`` and help, and writes the one
error message for an unknown name. Adding a method to the book is one entry::

    @METHODS.register("mymethod", "what it does, in one line")
    class MyMethod(UnlearningMethod): ...
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")

__all__ = ["Registry", "UnknownChoiceError", "all_registries"]


class UnknownChoiceError(ValueError):
    """A name that is not an entry of its registry (the message lists the entries)."""


_ALL: list["Registry"] = []


def all_registries() -> tuple["Registry", ...]:
    """Every registry the library has created, in creation order (for tests and documentation)."""
    return tuple(_ALL)


class Registry(Generic[T]):
    """An ordered mapping from names to entries of one kind of choice, with a help line each.

    Args:
        kind: what an entry is, in words (``"model"``, ``"unlearning method"``): it names the
            choice in error messages.
        listed: whether :func:`all_registries` lists it (views made by :meth:`subset` are not).

    Reads like a mapping: ``name in reg``, ``reg[name]``, ``list(reg)``, ``len(reg)``, ``reg.items()``;
    an unknown name raises :class:`UnknownChoiceError` (a ``ValueError``, not a ``KeyError``: it is
    bad input, worded for the user).
    """

    def __init__(self, kind: str, *, listed: bool = True) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._help: dict[str, str] = {}
        if listed:
            _ALL.append(self)

    def add(self, name: str, entry: T, help: str = "") -> T:
        """Register ``entry`` under ``name`` (a name may be registered once); returns ``entry``."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered already")
        self._entries[name] = entry
        self._help[name] = help
        return entry

    def register(self, name: str, help: str = "") -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""
        def decorate(entry: T) -> T:
            return self.add(name, entry, help)
        return decorate

    @contextmanager
    def temporary(self, name: str, entry: T, help: str = "") -> Iterator[T]:
        """Register ``entry`` for the duration of a ``with`` block (a one-off variant, a test double)."""
        self.add(name, entry, help)
        try:
            yield entry
        finally:
            del self._entries[name], self._help[name]

    def check(self, name: str) -> str:
        """``name`` itself if it is registered.

        Raises:
            UnknownChoiceError: it is not; the message names the kind and lists every entry.
        """
        if name not in self._entries:
            raise UnknownChoiceError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self._entries)}")
        return name

    def __getitem__(self, name: str) -> T:
        return self._entries[self.check(name)]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._entries.items())

    def help(self, name: str) -> str:
        """The help line of ``name``."""
        return self._help[self.check(name)]

    def describe(self) -> str:
        """``name: help; name: help; ...`` (the command line's help text)."""
        return "; ".join(f"{name}: {text.rstrip('.')}" if text else name for name, text in self._help.items())

    def subset(self, names: Iterable[str], kind: str | None = None) -> "Registry[T]":
        """A registry of some of these entries with their help (e.g. the trained backbones), named ``kind``."""
        view: Registry[T] = Registry(kind or self.kind, listed=False)
        for name in names:
            view.add(name, self[name], self.help(name))
        return view

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
