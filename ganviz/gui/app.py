"""Start the window."""
from __future__ import annotations

import os
import sys

import torch  # noqa: F401  (import torch before creating the QApplication)


def make_app():
    from PySide6.QtWidgets import QApplication

    # The GUI thread needs a core of its own: torch's intra-op threads competing with it on a
    # 2-core machine slow training down tenfold. Small GAN models lose little with fewer threads.
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, min(torch.get_num_threads(), (os.cpu_count() or 2) - 1)))
    # The training thread and the GUI thread share one interpreter lock; hand it over every
    # millisecond rather than every 5 so the window answers promptly while training runs.
    sys.setswitchinterval(0.001)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ganviz")
    return app


def run_app(args=None) -> int:
    from ganviz.core.config import Config

    from .main_window import MainWindow

    app = make_app()
    config = Config(dataset=getattr(args, "dataset", None) or "ring")
    window = MainWindow(config, checkpoint=getattr(args, "checkpoint", None))
    window.show()
    return app.exec()
