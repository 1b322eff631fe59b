"""A process registry in the manner of Elixir's ``Registry``.

A registry maps keys to the pids that registered them, each entry with a
value. It is the building block for naming processes (``unique`` keys) and for
grouping them (``duplicate`` keys: chat rooms, dashboard listeners, topics).

Using as a name table::

    sessions = Registry(keys="unique", name="sessions")
    sessions.register(user_id)                    # inside the user's connection
    [(pid, _)] = sessions.lookup(user_id)
    send(pid, "you have mail")

Using as a dispatcher (the broadcast primitive)::

    registry.register("dashboards")               # default registry: duplicate keys
    registry.dispatch("dashboards", lambda pid, value: send(pid, sample))

Rules:

* Only the current process registers or unregisters itself, as in Elixir, so
  the owner of an entry is always the pid that asked for it.
* Every entry of a pid disappears when the pid ends, however it ends (an exit
  hook on the pid runs before ``Down`` messages go out).
* In a ``duplicate`` registry a pid may register the same key more than once;
  each registration is an entry of its own.
* Reads (:meth:`lookup`, :meth:`dispatch`, :meth:`count`...) are safe from
  other threads: they work on a snapshot taken in one step. Writes happen on
  the process's own loop.

No I/O and no trio here: this module is unit-tested without sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ..errors import AlreadyRegisteredError, DeadPidError, RegistryError
from .process import Pid, self_pid

__all__ = ["Keys", "Registry"]

_NO_HOLDERS: MappingProxyType[Pid, Sequence[Any]] = MappingProxyType({})


class Keys(StrEnum):
    """Whether a key maps to one pid or to many."""

    UNIQUE = "unique"
    DUPLICATE = "duplicate"


class Registry:
    """A key → (pid, value) table with automatic cleanup of ended pids.

    Args:
        keys: ``"unique"`` or ``"duplicate"`` (see :class:`Keys`).
        name: A label for logs and ``repr``.
    """

    def __init__(self, keys: Keys | str = Keys.DUPLICATE, name: str | None = None) -> None:
        self.kind = Keys(keys)
        self.name = name or f"registry-{id(self):x}"
        # key -> {pid: [value, ...]}; a list because a duplicate registry lets
        # one pid hold the same key several times.
        self._entries: dict[Hashable, dict[Pid, list[Any]]] = {}
        # pid -> {key: number of entries}; lets cleanup touch only its keys.
        self._by_pid: dict[Pid, dict[Hashable, int]] = {}

    # -- writes (current process only) -----------------------------------

    def register(self, key: Hashable, value: Any = None) -> None:
        """Register the current process under ``key`` with ``value``.

        Raises:
            AlreadyRegisteredError: In a unique registry, when another live
                pid, or this one, already holds ``key``.
            NotInActorError: Outside of a process.
        """
        self.register_pid(self_pid(), key, value)

    def register_pid(self, pid: Pid, key: Hashable, value: Any = None) -> None:
        """Register ``pid`` under ``key`` (runtime and tests; prefer :meth:`register`).

        Raises:
            AlreadyRegisteredError: See :meth:`register`.
            DeadPidError: If ``pid`` has ended.
        """
        if not pid.alive:
            raise DeadPidError(f"{pid!r} has ended and cannot register {key!r}")
        holders = self._entries.get(key)
        if self.kind is Keys.UNIQUE and holders:
            raise AlreadyRegisteredError(key, next(iter(holders)))
        if holders is None:
            holders = self._entries[key] = {}
        holders.setdefault(pid, []).append(value)
        keys = self._by_pid.get(pid)
        if keys is None:
            keys = self._by_pid[pid] = {}
            pid.add_exit_hook(self._forget)
        keys[key] = keys.get(key, 0) + 1

    def unregister(self, key: Hashable) -> None:
        """Remove every entry of the current process under ``key`` (no error if none)."""
        self._remove(self_pid(), key)

    def unregister_pid(self, pid: Pid, key: Hashable) -> None:
        """Remove every entry of ``pid`` under ``key`` (no error if none).

        For the runtime and PubSub; processes use :meth:`unregister`.
        """
        self._remove(pid, key)

    def unregister_match(self, key: Hashable, predicate: Callable[[Any], bool]) -> int:
        """Remove the current process's entries under ``key`` whose value matches.

        Returns:
            How many entries were removed.
        """
        pid = self_pid()
        values = self._entries.get(key, {}).get(pid)
        if not values:
            return 0
        keep = [value for value in values if not predicate(value)]
        removed = len(values) - len(keep)
        if removed:
            self._remove(pid, key)
            for value in keep:
                self.register_pid(pid, key, value)
        return removed

    def update_value(self, key: Hashable, update: Callable[[Any], Any]) -> tuple[Any, Any]:
        """Replace the current process's value under a unique ``key``.

        Args:
            key: A key the current process holds.
            update: Called with the old value; returns the new one.

        Returns:
            ``(new_value, old_value)``.

        Raises:
            RegistryError: In a duplicate registry, or if the current process
                does not hold ``key``.
        """
        if self.kind is not Keys.UNIQUE:
            raise RegistryError("update_value works on unique registries only")
        pid = self_pid()
        values = self._entries.get(key, {}).get(pid)
        if not values:
            raise RegistryError(f"{pid!r} does not hold {key!r} in {self.name}")
        old = values[0]
        values[0] = update(old)
        return values[0], old

    # -- reads (any task, any thread) --------------------------------------

    def lookup(self, key: Hashable) -> list[tuple[Pid, Any]]:
        """Return the ``(pid, value)`` entries under ``key``, oldest pid first."""
        return [
            (pid, value)
            for pid, values in tuple(self._entries.get(key, {}).items())
            for value in values
        ]

    def holders(self, key: Hashable) -> MappingProxyType[Pid, Sequence[Any]]:
        """The live, read-only mapping of each pid registered under ``key`` to its values.

        For hot loops on the registry's own loop (broadcasts): nothing is
        copied and nothing is allocated per entry, so a fan-out to many
        processes does not feed the garbage collector. The mapping follows
        later changes of the registry; copy it (``.copy()``, made in C) to
        keep a snapshot, and do not change the registry while iterating it. Use
        :meth:`dispatch` when the callback may register, unregister or end
        processes, or from another thread.
        """
        holders = self._entries.get(key)
        return _NO_HOLDERS if holders is None else MappingProxyType(holders)

    def dispatch(self, key: Hashable, fn: Callable[[Pid, Any], object]) -> int:
        """Call ``fn(pid, value)`` for every entry under ``key``.

        The entries are read in one step before the first call, so ``fn`` may
        register, unregister or end processes safely.

        Returns:
            The number of calls made.
        """
        calls = 0
        for pid, values in tuple(self._entries.get(key, {}).items()):
            for value in values:
                fn(pid, value)
                calls += 1
        return calls

    def keys(self, pid: Pid) -> list[Hashable]:
        """Return the keys ``pid`` holds (each once)."""
        return list(tuple(self._by_pid.get(pid, {})))

    def values(self, key: Hashable, pid: Pid) -> list[Any]:
        """Return the values ``pid`` registered under ``key``."""
        return list(self._entries.get(key, {}).get(pid, ()))

    def match(self, key: Hashable, predicate: Callable[[Any], bool]) -> list[tuple[Pid, Any]]:
        """Return the entries under ``key`` whose value satisfies ``predicate``."""
        return [(pid, value) for pid, value in self.lookup(key) if predicate(value)]

    def count(self, key: Hashable | None = None) -> int:
        """Count entries: all of them, or only those under ``key``."""
        if key is not None:
            return sum(len(values) for values in tuple(self._entries.get(key, {}).values()))
        return sum(sum(keys.values()) for keys in tuple(self._by_pid.values()))

    def all_keys(self) -> list[Hashable]:
        """Return every key that has at least one entry."""
        return list(tuple(self._entries))

    # -- internals -------------------------------------------------------

    def _remove(self, pid: Pid, key: Hashable) -> None:
        holders = self._entries.get(key)
        if holders is None or holders.pop(pid, None) is None:
            return
        if not holders:
            del self._entries[key]
        keys = self._by_pid[pid]
        del keys[key]
        if not keys:
            del self._by_pid[pid]
            pid.remove_exit_hook(self._forget)

    def _forget(self, pid: Pid) -> None:
        """Exit hook: drop every entry of an ended pid."""
        for key in self._by_pid.pop(pid, {}):
            holders = self._entries.get(key)
            if holders is not None:
                holders.pop(pid, None)
                if not holders:
                    del self._entries[key]

    def __repr__(self) -> str:
        return f"<Registry {self.name} keys={self.kind.value} entries={self.count()}>"
