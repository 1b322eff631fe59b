"""The garbage collector's settings for a process that actorsock runs.

Every open connection is a few dozen objects the cycle collector tracks
(its task, coroutines, pid, session, streams). CPython runs a full
collection, which walks every tracked object, each time ten collections of
the middle generation have run and the objects that survived them have
grown by a quarter: while thousands of clients connect at once (after a
deploy or a network blip), that is a full walk of a growing heap for every
quarter it grows, a stall for every client each time (figures in
``bench/README.md``). :func:`tune_collector` lets such a burst trigger few
full collections; steady traffic, which creates and frees its objects, is
collected as before.

Only :meth:`actorsock.App.run` (``actorsock run``), which owns the process,
applies it; :meth:`actorsock.App.serve`, embedded in someone else's trio
run, leaves the interpreter's settings alone.
"""

from __future__ import annotations

import gc

__all__ = ["tune_collector"]


def tune_collector(full_collection_threshold: int) -> None:
    """Set the collector up for a server process (see the module docstring).

    Collects once, then freezes what exists at start-up (the interpreter,
    the imported application, its configuration) out of every later
    collection, and sets CPython's third threshold (collections of the
    middle generation before a full one may run) to
    ``full_collection_threshold``.

    Args:
        full_collection_threshold: ``server.gc_full_collection_threshold``;
            0 leaves every setting of the collector as it is.
    """
    if full_collection_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, full_collection_threshold)
