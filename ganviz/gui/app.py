"""Start the window."""
from __future__ import annotations

import os
import sys


def make_app():
    import torch  # before the QApplication (see shared/STYLE.md's traps)
    from PySide6.QtWidgets import QApplication

    # Training runs in its own process (service/training.py) with every core but one; the little torch
    # work done here (drawn points, the field's colour scale) needs no more than one thread.
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)
    keep_freed_buffers_off_the_heap()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ganviz")
    collect_in_the_gui_thread(app)
    return app


MMAP_THRESHOLD = 256 * 1024   # bytes: larger blocks get their own mapping, unmapped when freed


def keep_freed_buffers_off_the_heap():
    """glibc raises its mmap threshold each time a large block is freed (up to 32 MB), so the
    window's big short-lived buffers (the field's torch activations in the worker thread, the
    batches' arrays, History and curve copies, QImages) come to live in the malloc heaps, which
    keep them after they are freed and fragment: the window grew ~30 MB per 10 minutes of
    training, most of it freed memory (soak.py). A fixed threshold keeps each such buffer in a
    mapping of its own, returned to the system when it is freed. No-op off glibc."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, MMAP_THRESHOLD)   # M_MMAP_THRESHOLD (also stops the dynamic raise)
    except (OSError, AttributeError):
        pass


def collect_in_the_gui_thread(app):
    """Python's cycle collector runs in whichever thread happens to allocate; when that is the
    worker's thread (or an in-process training service) and the garbage holds Qt objects, their
    destruction there deadlocks against the GUI thread (seen: a QMenu freed during a test hung
    it for good). pyqtgraph's GarbageCollector turns the automatic collector off and collects
    on a timer in the GUI thread instead."""
    if getattr(app, "_collector", None) is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector
        app._collector = GarbageCollector(interval=0.5)


def run_app(args=None) -> int:
    from .system_libs import check_window_libraries
    problem = check_window_libraries()   # before Qt, which would abort the process instead
    if problem:
        print(problem, file=sys.stderr)
        return 2

    from ganviz.protocol.transports import ProcessTransport
    training = ProcessTransport.start()   # it imports torch on the other core while the window builds

    from ganviz.core.config import Config

    from .main_window import MainWindow

    app = make_app()
    config = Config(dataset=getattr(args, "dataset", None) or "ring")
    window = MainWindow(config, checkpoint=getattr(args, "checkpoint", None), transport=training,
                        runs_folder=getattr(args, "runs", None))
    window.show()
    if getattr(args, "run", None):   # once the window's own run is up, the folder replaces it on screen
        window.pending_run = args.run
    return app.exec()
