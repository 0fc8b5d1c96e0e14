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
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ganviz")
    collect_in_the_gui_thread(app)
    return app


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

    if getattr(args, "connect", None):   # a server trains (ganviz serve): attach to it
        from ganviz.protocol.remote import ConnectError, SocketTransport
        try:
            training = SocketTransport.connect(args.connect, getattr(args, "token", None))
        except (ConnectError, ValueError) as e:
            print(f"ganviz: error: {e}", file=sys.stderr)
            return 2
    else:
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
