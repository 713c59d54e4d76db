"""Opt-in speedups for offline program runs that replace SDK internals; the offline runner's use only.

`patched_sync_await()` removes the quadratic cost of blocking calls (`aws.get_caller_identity()`,
`Output.json_dumps` over nested outputs, ...). The SDK's `_sync_await` (pulumi/runtime/sync_await.py)
pumps the running event loop itself and afterwards pads the loop's ready queue with cancelled handles
back to the length it had on entry, so that the enclosing `BaseEventLoop._run_once`, which pops exactly
the `ntodo` handles it counted before it started, does not pop an empty queue. That length includes
everything queued since that iteration began, padding left by earlier blocking calls among it. A
synchronous program body runs in ONE loop iteration, so the padding grows with every blocking call
(hundreds of handles each), is popped and skipped by every later pump, and is re-allocated each time:
quadratic time, and GC passes over the allocations.

The replacement pads only what the enclosing iteration still pops: `ntodo - i - 1`, read from the
innermost `_run_once` frame of this loop on the current thread's stack. Cancelled handles are skipped
by the loop, so the real callbacks run in exactly the same order as with the SDK's padding; only the
number of no-op handles differs. Whenever an assumption does not hold (another loop implementation, an
SDK or CPython whose code differs, no enclosing iteration found, a count out of range) the SDK's own
behaviour is used. Pin the SDK (pyproject.toml) and compare plans after an upgrade.
"""

import asyncio
import collections
import contextlib
import logging
import sys
import types
from asyncio.base_events import BaseEventLoop
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from pulumi.runtime import sync_await as sdk_sync_await

T = TypeVar("T")

_LOG = logging.getLogger(__name__)
_ORIGINAL: Callable[[Awaitable[Any]], Any] = sdk_sync_await._sync_await
_ensure_event_loop: Callable[[], asyncio.AbstractEventLoop] = sdk_sync_await._ensure_event_loop
_RUN_ONCE: object = getattr(BaseEventLoop, "_run_once", None)
_RUN_ONCE_CODE: object = getattr(_RUN_ONCE, "__code__", None)
# What the replacement relies on, checked before patching: the SDK function pads to `len(loop._ready)`
# taken on entry, and `_run_once` pops the `ntodo` handles it counted, one per `i`.
_SDK_NAMES = ("_ready", "_run_once", "ensure_future", "is_running", "Handle", "_cancelled")
_RUN_ONCE_LOCALS = ("self", "ntodo", "i", "handle")


def _applicable() -> bool:
    """True when the SDK and CPython code is the code the replacement was written against."""
    sdk_code = getattr(_ORIGINAL, "__code__", None)
    if not isinstance(sdk_code, types.CodeType):
        return False
    names = set(sdk_code.co_names)
    if not all(name in names for name in _SDK_NAMES):
        return False
    if not isinstance(_RUN_ONCE_CODE, types.CodeType):
        return False
    run_once_locals = set(_RUN_ONCE_CODE.co_varnames)
    return all(name in run_once_locals for name in _RUN_ONCE_LOCALS)


def _pending_pops(loop: asyncio.AbstractEventLoop, queued: int) -> int:
    """How many handles the innermost running `_run_once` of `loop` will still pop from its ready queue.

    `queued` (the queue's length now) is the SDK's answer and the answer whenever the enclosing
    iteration cannot be read: it is never too small, because that iteration has not popped its
    remaining handles yet.
    """
    frame: types.FrameType | None = sys._getframe(2)
    while frame is not None and frame.f_code is not _RUN_ONCE_CODE:
        frame = frame.f_back
    if frame is None:
        return queued
    frame_locals = frame.f_locals
    if frame_locals.get("self") is not loop:
        return queued
    ntodo, index = frame_locals.get("ntodo"), frame_locals.get("i")
    if not isinstance(ntodo, int) or not isinstance(index, int):
        return queued
    pending = ntodo - index - 1
    return pending if 0 <= pending <= queued else queued


def _sync_await_padding_needed(awaitable: Awaitable[T]) -> T:
    """The SDK's `_sync_await`, padding the ready queue only to what the enclosing iteration pops."""
    loop = _ensure_event_loop()
    # Another loop implementation (uvloop) or a subclass with its own iteration: the SDK's code.
    if not loop.is_running() or getattr(type(loop), "_run_once", None) is not _RUN_ONCE:
        result: T = _ORIGINAL(awaitable)
        return result
    ready: collections.deque[asyncio.Handle] = getattr(loop, "_ready")  # noqa: B009 (private, untyped)
    fut = asyncio.ensure_future(awaitable, loop=loop)
    # As the SDK does: pretend the current task's step has returned while the loop is pumped.
    task = asyncio.current_task(loop)
    if task is not None:
        asyncio.tasks._leave_task(loop, task)
    ntodo = _pending_pops(loop, len(ready))
    while not fut.done() and not fut.cancelled():
        loop._run_once()  # type: ignore[attr-defined]
    while len(ready) < ntodo:
        handle = asyncio.Handle(lambda: None, [], loop)
        handle._cancelled = True
        ready.append(handle)
    if task is not None:
        asyncio.tasks._enter_task(loop, task)
    return fut.result()


def _bindings_of(function: object) -> list[types.ModuleType]:
    """Loaded modules whose `_sync_await` global is `function` (pulumi's and every provider's)."""
    # vars(), not getattr: provider packages load submodules lazily on attribute access.
    return [
        module
        for module in list(sys.modules.values())
        if isinstance(module, types.ModuleType) and vars(module).get("_sync_await") is function
    ]


@contextlib.contextmanager
def patched_sync_await() -> Iterator[bool]:
    """Use `_sync_await` with exact padding in every loaded module that bound the SDK's; restore on exit.

    Modules imported while the patch is active (a provider's `_utilities`) bind the replacement through
    `pulumi.runtime.sync_await`; they are restored too. Yields whether the patch is active: False when
    the SDK or CPython code is not what the replacement was written against (nothing is changed then).
    The patch is process-wide, like the GC threshold the runner raises: a nested use changes nothing
    and the outermost one restores.
    """
    if sdk_sync_await._sync_await is _sync_await_padding_needed:
        yield True
        return
    if sdk_sync_await._sync_await is not _ORIGINAL or not _applicable():
        _LOG.warning("pulumi's _sync_await is not the code this patch was written for; left unpatched")
        yield False
        return
    for module in _bindings_of(_ORIGINAL):
        vars(module)["_sync_await"] = _sync_await_padding_needed
    try:
        yield True
    finally:
        for module in _bindings_of(_sync_await_padding_needed):
            vars(module)["_sync_await"] = _ORIGINAL
