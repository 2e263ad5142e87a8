"""Run one function over items on N threads and hand the results back in the items' order."""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def in_order(fn: Callable[[T], R], items: Iterable[T], workers: int = 1) -> Iterator[tuple[T, R]]:
    """(item, fn(item)) in the items' order, with at most 2 * workers items in flight. An exception from fn is
    raised here, for its item, after every earlier item was handed back; items not started yet are dropped."""
    if workers <= 1:
        for item in items:
            yield item, fn(item)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="citeqa-eval")
    pending: deque[tuple[T, Future]] = deque()
    source = iter(items)
    try:
        for item in source:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            item, fut = pending.popleft()
            result = fut.result()
            nxt = next(source, _END)
            if nxt is not _END:
                pending.append((nxt, pool.submit(fn, nxt)))
            yield item, result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_END = object()
