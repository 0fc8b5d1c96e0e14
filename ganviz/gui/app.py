"""Start the window."""
from __future__ import annotations

import sys

import torch  # noqa: F401  (import torch before creating the QApplication)


def make_app():
    from PySide6.QtWidgets import QApplication
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
