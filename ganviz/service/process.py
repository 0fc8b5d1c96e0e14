"""The training process: the training service (training.py) in a spawned process of its own.

This module imports neither torch nor Qt, so the app can start the process first thing and
let it import torch while the window builds itself on the other core.
"""
from __future__ import annotations

import multiprocessing
import os
import sys


START_METHOD = "spawn"
"""How training processes start. The test suite sets "forkserver" (a clean server process that
imports torch once and forks each training process from there, in 0.02 s instead of 2 s): the
app starts one process, the tests a few hundred. The app keeps "spawn": its first start must
not wait for a server to import torch, and it would keep that server's memory for the rare
restart."""


def start(threads: int | None = None):
    """A new training process and the window's end of its pipe: (process, connection)."""
    # spawn, not fork: a forked copy of a process with Qt and torch threads can deadlock
    ctx = multiprocessing.get_context(START_METHOD)
    conn, child = ctx.Pipe()
    process = ctx.Process(target=serve, args=(child, threads or default_threads()),
                          name="ganviz-training", daemon=True)
    process.start()
    child.close()
    return process, conn


def default_threads() -> int:
    """Torch threads for training: every core but one, which the window keeps. 0 (torch's
    default) where the user set OMP_NUM_THREADS."""
    if "OMP_NUM_THREADS" in os.environ:
        return 0
    return max(1, (os.cpu_count() or 2) - 1)


def serve(conn, threads: int = 0):
    """The training process's main function: run the service until Stop or the window goes."""
    import torch

    from .training import TrainingService

    if threads:
        torch.set_num_threads(threads)
    try:
        TrainingService(conn).run()
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass   # the window closed the pipe (or died): nothing left to train for
    finally:
        conn.close()
        # Skip the interpreter's teardown (about a second with torch loaded): every file this
        # process writes is complete by now, and the window waits for this exit when it closes.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
