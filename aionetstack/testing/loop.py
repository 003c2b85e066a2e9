"""``VirtualTimeLoop``: an asyncio event loop whose clock is virtual.

Theory of operation
-------------------
An asyncio loop spends its idle time in ``selector.select(timeout)``, where
``timeout`` is the distance to the earliest scheduled timer (``None`` when no
timer is scheduled). ``VirtualTimeLoop`` is a ``SelectorEventLoop`` whose
``time()`` reads a counter instead of a clock, and whose selector, instead of
sleeping ``timeout`` seconds, adds ``timeout`` to that counter and returns at
once. The loop then finds the earliest timer due and runs it. So:

* every timer (``call_at``/``call_later``, ``asyncio.sleep``, ``asyncio.timeout``,
  the memory links' delivery and impairment timers, the ``Stack``'s one timer)
  runs on the virtual clock, in the order of its deadline, with no wall time
  spent waiting;
* the clock moves only while the loop is idle: a callback that computes for a
  while takes no virtual time, so a run is a pure function of its inputs and
  its seeds (it reproduces exactly);
* time starts at 0.0, so ``loop.time()`` is the virtual time elapsed.

Real I/O has no place on a virtual clock (a socket would see a clock that runs
thousands of times too fast): ``add_reader``, ``add_writer``, the ``sock_*``
methods, ``create_connection``/``create_server``/``create_datagram_endpoint``,
pipes, subprocesses and name resolution raise ``RuntimeError``. The loop's own
self-pipe still works, so ``call_soon_threadsafe`` and executors do: while an
executor job (``run_in_executor``, ``asyncio.to_thread``) is pending, the
virtual clock stands still and the loop waits for real for the job to finish.

When nothing is ready, no timer is scheduled and no executor job is pending,
a real loop would sleep for ever; this one waits ``deadlock_timeout`` real
seconds for a wake-up from another thread, then raises ``RuntimeError``
("deadlock") so the test fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import selectors
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, NoReturn, TypeVar, TypeVarTuple

__all__ = ["VirtualTimeLoop", "run"]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

# Loop methods that would touch a real socket, pipe, process or resolver.
_REAL_IO = (
    "add_reader",
    "add_writer",
    "sock_recv",
    "sock_recv_into",
    "sock_recvfrom",
    "sock_recvfrom_into",
    "sock_sendall",
    "sock_sendto",
    "sock_connect",
    "sock_accept",
    "sock_sendfile",
    "sendfile",
    "create_connection",
    "create_server",
    "create_datagram_endpoint",
    "create_unix_connection",
    "create_unix_server",
    "connect_accepted_socket",
    "connect_read_pipe",
    "connect_write_pipe",
    "subprocess_exec",
    "subprocess_shell",
    "getaddrinfo",
    "getnameinfo",
)


def _refused(name: str) -> Any:
    def refused(self: VirtualTimeLoop, *args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError(
            f"VirtualTimeLoop.{name}(): real I/O is not allowed on the virtual clock "
            "(use memory links; run tests that need sockets or TUN on a real loop)"
        )

    refused.__name__ = refused.__qualname__ = name
    return refused


class _VirtualSelector(selectors.BaseSelector):
    """The real selector (for the loop's self-pipe), except that waiting
    advances the loop's virtual clock instead of sleeping."""

    def __init__(self, loop: VirtualTimeLoop, deadlock_timeout: float) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop
        self._deadlock_timeout = deadlock_timeout

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        loop = self._loop
        if loop._executor_jobs:
            # A thread is working for the loop: time stands still until it is done.
            return self._real.select(None)
        if timeout is not None:
            loop._virtual_now += timeout
            return []
        ready = self._real.select(self._deadlock_timeout)
        if not ready:
            raise RuntimeError(
                "VirtualTimeLoop: deadlock: no callback is ready, no timer is scheduled "
                f"and no other thread woke the loop within {self._deadlock_timeout} s "
                "(a task awaits something that nothing will ever set)"
            )
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on a virtual clock: idle time is skipped, not slept.

    ``time()`` starts at 0.0 and advances only when the loop has nothing ready,
    straight to the next timer's deadline. Real I/O raises ``RuntimeError``.
    """

    def __init__(self, *, deadlock_timeout: float = 5.0) -> None:
        self._virtual_now = 0.0
        self._executor_jobs = 0
        super().__init__(_VirtualSelector(self, deadlock_timeout))

    def time(self) -> float:
        return self._virtual_now

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[[*_Ts], _T],
        *args: *_Ts,
    ) -> asyncio.Future[_T]:
        fut = super().run_in_executor(executor, func, *args)
        self._executor_jobs += 1
        fut.add_done_callback(self._executor_job_done)
        return fut

    def _executor_job_done(self, fut: asyncio.Future[Any]) -> None:
        self._executor_jobs -= 1


for _name in _REAL_IO:
    setattr(VirtualTimeLoop, _name, _refused(_name))
del _name


def run(main: Coroutine[Any, Any, _T], *, debug: bool | None = None) -> _T:
    """Run ``main`` to completion on a fresh ``VirtualTimeLoop`` (like ``asyncio.run``)."""
    with asyncio.Runner(debug=debug, loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)
