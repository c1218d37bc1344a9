"""The one retry policy (tenacity): exponential backoff from ``initial_s`` capped at ``max_s``, optional
jitter, a server's Retry-After honoured. Used by the OpenAI-compatible backend and the Label Studio client."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from tenacity import AsyncRetrying, Retrying, retry_if_exception_type, stop_after_attempt


def backoff(initial_s: float, max_s: float, *, jitter: bool) -> Callable:
    """tenacity ``wait``: initial_s * 2**(n-1) (+ up to initial_s of jitter), at least the exception's
    ``retry_after`` when it has one, at most ``max_s``."""
    def wait(retry_state) -> float:
        n = retry_state.attempt_number
        base = initial_s * 2 ** (n - 1) + (random.uniform(0, initial_s) if jitter else 0.0)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        hinted = getattr(exc, "retry_after", None) or 0.0
        return min(max(base, hinted), max_s)
    return wait


def retrying(retry_on: type[BaseException] | tuple[type[BaseException], ...], *, max_retries: int, initial_s: float,
             max_s: float, jitter: bool = True, sleep: Callable[[float], None] = time.sleep) -> Retrying:
    """``for attempt in retrying(...): with attempt: ...``; the last ``retry_on`` error is re-raised."""
    return Retrying(retry=retry_if_exception_type(retry_on), stop=stop_after_attempt(max_retries + 1),
                    wait=backoff(initial_s, max_s, jitter=jitter), sleep=sleep, reraise=True)


def aretrying(retry_on: type[BaseException] | tuple[type[BaseException], ...], *, max_retries: int, initial_s: float,
              max_s: float, jitter: bool = True) -> AsyncRetrying:
    """The async twin of :func:`retrying`."""
    return AsyncRetrying(retry=retry_if_exception_type(retry_on), stop=stop_after_attempt(max_retries + 1),
                         wait=backoff(initial_s, max_s, jitter=jitter), reraise=True)
