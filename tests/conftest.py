"""Shared fixtures: a fake loop for pure tests, helpers for server tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from actorsock.core.deliveries import DeliveryQueue
from actorsock.core.mailbox import Mailbox
from actorsock.core.process import Pid
from actorsock.core.timers import TimerHeap, TimerRef
from actorsock.runtime.fan_out import fan_out_frames


class FakeLoop:
    """A Loop for pure tests: a manual clock, a timer heap, recorded wake-ups.

    Nothing runs its delivery queue: tests that fill it call ``deliveries.run()``.
    """

    def __init__(self) -> None:
        self._thread_id = threading.get_ident()
        self.now = 0.0
        self.timers = TimerHeap()
        self.hops: list[tuple[Callable[..., object], tuple[Any, ...]]] = []
        self.wakes: dict[Pid, int] = {}
        self.deliveries = DeliveryQueue()

    @property
    def thread_id(self) -> int:
        return self._thread_id

    def call_soon_threadsafe(self, fn: Callable[..., object], *args: Any) -> None:
        self.hops.append((fn, args))

    fan_out_frames = staticmethod(fan_out_frames)

    def run_hops(self) -> None:
        hops, self.hops = self.hops, []
        for fn, args in hops:
            fn(*args)

    def schedule_timer(
        self,
        dest: Pid,
        delay: float,
        message: Any,
        interval: float | None,
        *,
        system: bool = False,
    ) -> TimerRef:
        return self.timers.schedule(self.now, delay, dest, message, interval, system)

    def cancel_timer(self, ref: TimerRef) -> bool:
        return self.timers.cancel(ref)

    def spawn(self, capacity: int = 8, policy: str = "disconnect") -> Pid:
        pid = Pid._spawn(self, Mailbox(capacity, policy))
        self.wakes[pid] = 0

        def wake() -> None:
            self.wakes[pid] += 1

        pid._wake = wake
        return pid


@pytest.fixture
def loop() -> FakeLoop:
    return FakeLoop()
