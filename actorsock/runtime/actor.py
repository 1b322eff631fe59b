"""Runs an :class:`~actorsock.core.handler.Actor`: a process with a mailbox and no socket.

Lifecycle::

    spawn pid -> init() --Stop--------------------------------> terminate -> dead
                    |                                              ^
                    v                                              |
              loop: stop requested?  ---------------- yes (reason) |
                    mailbox overflowed? ------------- yes (ErrorReason)  |
                    message? -> handle_info() --Stop-- (Normal)    |
                    else park until woken                          |
              exception anywhere ------------------- (Crash) ------+
              cancelled ---------------------------- (Shutdown) ---+

``terminate`` runs exactly once, shielded from cancellation for at most
``TERMINATE_TIMEOUT`` seconds, before the pid is marked dead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

from ..core.frames import Stop, commands_of
from ..core.handler import Actor, Process
from ..core.mailbox import DEFAULT_MAILBOX_SIZE, Mailbox, Overflow
from ..core.process import Pid, exit_process, reset_current_pid, set_current_pid
from ..core.reasons import Crash, ErrorKind, ErrorReason, Normal, Reason, Shutdown
from ..logging import get_logger
from .loop import current_loop
from .waker import Waker

__all__ = ["TERMINATE_TIMEOUT", "run_actor", "run_terminate", "spawn_process", "start_actor"]

TERMINATE_TIMEOUT = 5.0


def spawn_process(
    behaviour: Process,
    mailbox_size: int | None = None,
    overflow: str | None = None,
    waker: Waker | None = None,
    wake: Callable[[], None] | None = None,
) -> tuple[Pid, Waker]:
    """Create the pid, mailbox and waker of a new process for ``behaviour``.

    Options set on the behaviour's class win over the arguments, which win
    over the defaults (1024 messages, ``disconnect``). ``waker`` replaces the
    plain :class:`Waker` the process parks on; ``wake`` is its ``wake``
    method bound once by a caller that hands the same callable to others.
    """
    mailbox = Mailbox(
        behaviour.mailbox_size or mailbox_size or DEFAULT_MAILBOX_SIZE,
        behaviour.overflow or overflow or Overflow.DISCONNECT,
    )
    waker = waker or Waker()
    pid = current_loop().spawn(mailbox, wake or waker.wake)
    pid.codec = behaviour.codec
    behaviour.pid = pid
    return pid, waker


async def run_terminate(
    terminate: Callable[[Reason], Awaitable[None]], reason: Reason, log: Any
) -> None:
    """Call ``terminate(reason)`` shielded and bounded; log what it raises."""
    with trio.CancelScope(shield=True) as scope:
        scope.deadline = trio.current_time() + TERMINATE_TIMEOUT
        try:
            await terminate(reason)
        except Exception:
            log.exception("terminate raised", reason=reason.name)
    if scope.cancelled_caught:
        log.warning("terminate timed out", timeout=TERMINATE_TIMEOUT)


def _wants_stop(result: Any) -> bool:
    return any(isinstance(command, Stop) for command in commands_of(result))


async def run_actor(
    actor: Actor, *, task_status: trio.TaskStatus[Pid] = trio.TASK_STATUS_IGNORED
) -> Reason:
    """Run ``actor`` until it stops; report its pid once ``init`` has returned.

    Returns:
        The exit reason. Crashes are returned as ``Crash`` (and logged), not
        raised, so a supervisor can decide what to do; cancellation propagates
        after ``terminate(Shutdown())``.
    """
    pid, waker = spawn_process(actor)
    log = get_logger(pid=str(pid), actor=type(actor).__name__)
    token = set_current_pid(pid)
    reason: Reason = Normal()
    mailbox = pid.mailbox
    try:
        if _wants_stop(await actor.init()):
            task_status.started(pid)
            return reason
        task_status.started(pid)
        while True:
            if pid.stop_request is not None:
                reason = pid.stop_request
                break
            if mailbox.overflowed:
                reason = ErrorReason(ErrorKind.MAILBOX_OVERFLOW)
                log.warning("mailbox overflow", capacity=mailbox.capacity, dropped=mailbox.dropped)
                break
            if mailbox:
                if _wants_stop(await actor.handle_info(mailbox.pop())):
                    break
            else:
                await waker.wait()
    except trio.Cancelled:
        reason = Shutdown()
        raise
    except Exception as exc:
        reason = Crash(exc)
        log.exception("actor crashed")
    finally:
        await run_terminate(actor.terminate, reason, log)
        exit_process(pid, reason)
        reset_current_pid(token)
    return reason


async def start_actor(nursery: trio.Nursery, actor: Actor) -> Pid:
    """Start ``actor`` in ``nursery`` (unsupervised) and return its pid once ``init`` ran."""
    pid: Pid = await nursery.start(run_actor, actor)
    return pid
