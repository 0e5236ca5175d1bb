"""The generation model's waiting line: a llama.cpp context writes one answer at a time.

At most `size` requests wait behind the one being answered; one more is refused at once (`QueueFull`, which the
server turns into 429 with Retry-After) instead of piling up. The model lock is taken and released by the worker
thread that generates, so a cancelled request can never let two generations overlap; a client that goes away
leaves the line at once (`Ticket.cancel`), and a generation under way for it stops at its next token.
Retrieval and embedding requests never come here.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class QueueFull(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"the model is busy: {retry_after_s} s until a place is likely free")
        self.retry_after_s = retry_after_s


class ClientGone(Exception):
    """Raised inside the generation when its client has disconnected: stops it at the next token."""


class Ticket:
    def __init__(self, line: ModelQueue):
        self._line = line
        self._left = False
        self.cancelled = threading.Event()
        self.admitted_at = time.monotonic()
        self.waited_s: float | None = None

    def check(self) -> None:
        if self.cancelled.is_set():
            raise ClientGone

    def cancel(self) -> None:
        self.cancelled.set()
        self._leave()

    def _leave(self) -> None:
        with self._line._count_lock:
            if not self._left:
                self._left = True
                self._line._tickets -= 1

    def run(self, work: Callable[[], T]) -> T:
        """Runs `work` holding the model (call from a worker thread, never the event loop)."""
        line = self._line
        try:
            with line._model:
                self.waited_s = time.monotonic() - self.admitted_at
                line.waits.append(self.waited_s)
                self.check()
                started = time.monotonic()
                try:
                    return work()
                finally:
                    line.service.append(time.monotonic() - started)
        finally:
            self._leave()


class ModelQueue:
    def __init__(self, size: int):
        self.size = size
        self._model = threading.Lock()
        self._count_lock = threading.Lock()
        self._tickets = 0  # waiting or being answered
        self.rejected = 0
        self.waits: deque[float] = deque(maxlen=2000)  # seconds from admission to the model
        self.service: deque[float] = deque(maxlen=200)  # seconds each answer held the model

    def admit(self) -> Ticket:
        with self._count_lock:
            if self._tickets > self.size:
                self.rejected += 1
                raise QueueFull(self.retry_after_s())
            self._tickets += 1
        return Ticket(self)

    def retry_after_s(self) -> int:
        mean = sum(self.service) / len(self.service) if self.service else 3.0
        return max(1, math.ceil(mean * max(1, self._tickets - self.size)))

    def status(self) -> dict:
        def percentile(values, share: float) -> float:
            ordered = sorted(values)
            return round(ordered[min(int(len(ordered) * share), len(ordered) - 1)], 3) if ordered else 0.0

        return {"in_line": self._tickets, "size": self.size, "rejected": self.rejected,
                "wait_p50_s": percentile(self.waits, 0.5), "wait_p95_s": percentile(self.waits, 0.95),
                "answer_p50_s": percentile(self.service, 0.5), "answer_p95_s": percentile(self.service, 0.95)}
