"""Supervisors on trio nurseries: start children, restart what crashes, stop in order.

Theory of operation
-------------------
A :class:`Supervisor` runs each child in its own cancel scope inside one
nursery. When a child ends, its task records the exit and wakes the
supervisor's loop, which applies the pure rules of
:mod:`actorsock.core.supervision` (restart type, strategy, intensity).

Child states::

    starting --started--> running --ends by itself--> exited --rules--> restarted | removed
                             |
                             +--supervisor stops it--> stopping --> stopped

Stopping a child follows Erlang's ``shutdown`` option: the child's ``stop``
hook asks it to finish (an actor gets ``Shutdown`` as its reason), the
supervisor waits up to ``shutdown`` seconds, then cancels the child's scope.
Children without a hook, or with ``shutdown=0``, are cancelled at once.
Children stop in reverse start order.

Using as an application tree::

    sup = Supervisor([ChildSpec.actor(Ticker), ChildSpec.task(poll_feeds)],
                     strategy="one_for_one")
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ...
        await sup.shutdown()
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from ..core.handler import Actor
from ..core.process import Pid
from ..core.reasons import Crash, Normal, Reason, Shutdown
from ..core.supervision import (
    DEFAULT_MAX_RESTARTS,
    DEFAULT_MAX_SECONDS,
    DEFAULT_SHUTDOWN,
    Restart,
    RestartIntensity,
    Strategy,
    affected_children,
    should_restart,
)
from ..errors import SupervisorError
from ..logging import get_logger
from .actor import run_actor
from .waker import Waker

__all__ = ["ChildSpec", "Supervisor"]

StartFn = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class ChildSpec:
    """How to start, restart and stop one child.

    Attributes:
        id: A name unique among its siblings.
        start: ``async start(task_status=...)``: must call
            ``task_status.started(value)`` once ready; may return an exit
            :class:`~actorsock.core.reasons.Reason`.
        restart: ``"permanent"`` (default), ``"transient"`` or ``"temporary"``.
        shutdown: Seconds to wait after ``stop`` before cancelling (default
            5; 0 cancels at once).
        stop: ``stop(value)`` asks a running child to finish; ``value`` is
            what it passed to ``task_status.started``.
    """

    id: str
    start: StartFn
    restart: Restart | str = Restart.PERMANENT
    shutdown: float = DEFAULT_SHUTDOWN
    stop: Callable[[Any], None] | None = None

    @classmethod
    def actor(
        cls,
        factory: Callable[[], Actor],
        *,
        id: str | None = None,
        restart: Restart | str = Restart.PERMANENT,
        shutdown: float = DEFAULT_SHUTDOWN,
    ) -> ChildSpec:
        """A child that runs a fresh ``factory()`` actor on every (re)start."""

        async def start(task_status: trio.TaskStatus[Pid] = trio.TASK_STATUS_IGNORED) -> Reason:
            return await run_actor(factory(), task_status=task_status)

        name = id or str(getattr(factory, "__name__", repr(factory)))
        return cls(name, start, restart, shutdown, _stop_actor)

    @classmethod
    def task(
        cls,
        fn: Callable[[], Awaitable[Any]],
        *,
        id: str | None = None,
        restart: Restart | str = Restart.PERMANENT,
    ) -> ChildSpec:
        """A child that runs ``await fn()``; it counts as started at once, stops by cancellation."""

        async def start(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> Any:
            task_status.started()
            return await fn()

        return cls(id or str(getattr(fn, "__name__", repr(fn))), start, restart, 0.0, None)

    @classmethod
    def supervisor(
        cls,
        sup: Supervisor,
        *,
        id: str | None = None,
        restart: Restart | str = Restart.PERMANENT,
        shutdown: float = float("inf"),
    ) -> ChildSpec:
        """A nested supervisor; it is given all the time it needs to stop its children."""
        return cls(id or sup.name, sup.run, restart, shutdown, lambda _: sup.request_shutdown())


def _stop_actor(pid: Pid) -> None:
    pid.request_stop(Shutdown())


def as_child_spec(child: ChildSpec | type[Actor] | Supervisor) -> ChildSpec:
    """Accept a ChildSpec, an Actor subclass or a Supervisor where a child is expected."""
    if isinstance(child, ChildSpec):
        return child
    if isinstance(child, Supervisor):
        return ChildSpec.supervisor(child)
    if inspect.isclass(child) and issubclass(child, Actor):
        return ChildSpec.actor(child)
    raise TypeError(f"{child!r} is not a ChildSpec, an Actor subclass or a Supervisor")


@dataclass(eq=False)
class _Child:
    spec: ChildSpec
    value: Any = None
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    done: trio.Event = field(default_factory=trio.Event)
    started: bool = False
    stopping: bool = False
    reason: Reason | None = None


class Supervisor:
    """Runs children and applies a restart strategy; see the module docstring.

    Args:
        children: Child specs (or Actor subclasses, or nested supervisors), in
            start order.
        strategy: ``"one_for_one"`` (default), ``"one_for_all"`` or
            ``"rest_for_one"``.
        max_restarts: Restarts allowed within ``max_seconds`` (default 3 in 5 s);
            one more and the supervisor stops its children and raises
            :class:`~actorsock.errors.SupervisorError`.
        max_seconds: The intensity window.
        name: For logs.
    """

    def __init__(
        self,
        children: Sequence[ChildSpec | type[Actor] | Supervisor] = (),
        *,
        strategy: Strategy | str = Strategy.ONE_FOR_ONE,
        max_restarts: int = DEFAULT_MAX_RESTARTS,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        name: str = "supervisor",
    ) -> None:
        self._specs = [as_child_spec(child) for child in children]
        ids = [spec.id for spec in self._specs]
        if len(set(ids)) != len(ids):
            raise ValueError(f"child ids must be unique, got {ids}")
        self.strategy = Strategy(strategy)
        self.name = name
        self._intensity = RestartIntensity(max_restarts, max_seconds)
        self._children: list[_Child] = []
        self._exits: deque[_Child] = deque()
        self._waker = Waker()
        self._nursery: trio.Nursery | None = None
        self._shutdown_requested = False
        self._finished = trio.Event()
        self._log = get_logger(supervisor=name)

    # -- public API --------------------------------------------------------

    async def run(
        self, *, task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Start the children in order and supervise them until shut down.

        Raises:
            SupervisorError: If a child fails to start or the restart
                intensity is exceeded (after stopping the other children).
        """
        failure: SupervisorError | None = None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                try:
                    for spec in self._specs:
                        await self._start(spec)
                    task_status.started(self)
                    while not self._shutdown_requested:
                        if self._exits:
                            await self._handle_exit(self._exits.popleft())
                        else:
                            await self._waker.wait()
                except SupervisorError as exc:
                    # Raised outside the nursery so the parent sees this error
                    # itself, not wrapped in an ExceptionGroup.
                    failure = exc
                await self._stop_all()
        finally:
            self._finished.set()
        if failure is not None:
            raise failure

    def request_shutdown(self) -> None:
        """Ask the supervisor to stop its children (in reverse order) and return from ``run``."""
        self._shutdown_requested = True
        self._waker.wake()

    async def shutdown(self) -> None:
        """Request shutdown and wait until ``run`` has returned."""
        self.request_shutdown()
        await self._finished.wait()

    async def start_child(self, child: ChildSpec | type[Actor] | Supervisor) -> Any:
        """Add and start a child while running; returns its started value.

        Raises:
            ValueError: If the id is taken.
            SupervisorError: If the child fails to start.
        """
        spec = as_child_spec(child)
        if any(running.spec.id == spec.id for running in self._children):
            raise ValueError(f"a child with id {spec.id!r} already exists")
        return (await self._start(spec)).value

    async def terminate_child(self, child_id: str) -> bool:
        """Stop a child (as at shutdown) and forget it. Returns False if unknown."""
        for child in self._children:
            if child.spec.id == child_id:
                await self._stop(child)
                self._children.remove(child)
                return True
        return False

    def which_children(self) -> list[tuple[str, Any, str]]:
        """Return ``(id, started value, restart type)`` of each running child, in order."""
        return [(child.spec.id, child.value, str(child.spec.restart)) for child in self._children]

    # -- internals ---------------------------------------------------------

    async def _start(self, spec: ChildSpec, index: int | None = None) -> _Child:
        assert self._nursery is not None
        child = _Child(spec)
        try:
            child.value = await self._nursery.start(self._child_main, child)
        except Exception as exc:
            reason = child.reason or Crash(exc)
            self._log.error("child failed to start", child=spec.id, reason=repr(reason))
            raise SupervisorError(
                f"{self.name}: child {spec.id!r} failed to start: {reason!r}"
            ) from getattr(reason, "exception", exc)
        child.started = True
        if index is None:
            self._children.append(child)
        else:
            self._children.insert(index, child)
        return child

    async def _child_main(self, child: _Child, task_status: trio.TaskStatus[Any]) -> None:
        reason: Reason = Normal()
        with child.scope:
            try:
                result = await child.spec.start(task_status=task_status)
                if isinstance(result, Reason):
                    reason = result
            except Exception as exc:
                reason = Crash(exc)
                if child.started:
                    self._log.error("child crashed", child=child.spec.id, exc_info=exc)
        if child.scope.cancelled_caught:
            reason = Shutdown()
        child.reason = reason
        child.done.set()
        if child.started and not child.stopping:
            self._exits.append(child)
            self._waker.wake()

    async def _handle_exit(self, child: _Child) -> None:
        if child not in self._children:
            return
        reason = child.reason
        assert reason is not None
        spec = child.spec
        if not should_restart(spec.restart, reason):
            self._log.info("child ended", child=spec.id, reason=reason.name)
            self._children.remove(child)
            return
        if not self._intensity.allow(trio.current_time()):
            self._log.error(
                "restart intensity reached; giving up",
                child=spec.id,
                max_restarts=self._intensity.max_restarts,
                max_seconds=self._intensity.period,
            )
            await self._stop_all()
            raise SupervisorError(
                f"{self.name}: more than {self._intensity.max_restarts} restarts in "
                f"{self._intensity.period}s (last: {spec.id!r}, {reason!r})"
            )
        affected = affected_children(self.strategy, self._children, child)
        for other in reversed(affected):
            if other is not child:
                await self._stop(other)
        for other in affected:
            index = self._children.index(other)
            self._children.pop(index)
            if other is not child and Restart(other.spec.restart) is Restart.TEMPORARY:
                continue
            self._log.info("restarting child", child=other.spec.id, reason=reason.name)
            try:
                await self._start(other.spec, index)
            except SupervisorError:
                failed = _Child(other.spec, reason=Crash(RuntimeError("restart failed")))
                self._children.insert(index, failed)
                failed.started = True
                failed.done.set()
                self._exits.append(failed)

    async def _stop(self, child: _Child) -> None:
        child.stopping = True
        if child.done.is_set():
            return
        spec = child.spec
        if spec.stop is not None and spec.shutdown > 0:
            spec.stop(child.value)
            with trio.move_on_after(spec.shutdown):
                await child.done.wait()
        if not child.done.is_set():
            child.scope.cancel()
            await child.done.wait()

    async def _stop_all(self) -> None:
        for child in reversed(self._children):
            await self._stop(child)
        self._children.clear()
