"""How a block storage task's steps wait for a backend: a step that asked for a change
records since when (:func:`started`), looks again at the pace the region's backend declares
(:func:`look_again`), and knows when not seeing the change is a failure (:func:`settled`,
:func:`shown`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from interstack.backends.contract import NativeRef, Polling
from interstack.errors import BackendError, NotFound
from interstack.services.tasks import RetryAfter, Task, utcnow

#: a backend that has not settled after this many looks fails the task
MAX_POLLS = 1200


def look_again(task: Task, polling: Polling, **changes: Any) -> RetryAfter:
    """Look again after the wait the task's backend declares for the looks made so far
    (:class:`Polling`), the payload changed by ``changes``; fail once the backend took too
    long (:data:`MAX_POLLS` looks)."""
    polls = int(task.payload.get("polls", 0))
    if polls > MAX_POLLS:
        raise BackendError("the backend did not finish the operation in time")
    return RetryAfter(polling.delay(polls), {**task.payload, **changes, "polls": polls + 1})


def started(task: Task, phase: str = "wait", **changes: Any) -> Task:
    """The task as its next steps see it once this step has asked the backend for a change:
    in ``phase``, since now (:func:`settled`), its payload changed by ``changes``. Its
    payload is recorded with the step's :class:`RetryAfter`, so a step run again after that
    looks, it does not ask again (and a restarted gateway knows since when it looks)."""
    payload = {**task.payload, **changes, "phase": phase, "since": utcnow().isoformat()}
    return replace(task, payload=payload)


def settled(task: Task, polling: Polling) -> bool:
    """Whether the backend's reads have caught up with the change this task asked for
    (``Polling.settling_seconds`` since :func:`started`): not seeing it now is its failure."""
    since = datetime.fromisoformat(str(task.payload["since"]))
    return (utcnow() - since).total_seconds() >= polling.settling_seconds


def shown(get: Callable[[NativeRef], object], ref: NativeRef) -> bool:
    """Whether the backend shows the volume or snapshot (``get`` raises ``NotFound``)."""
    try:
        get(ref)
    except NotFound:
        return False
    return True
