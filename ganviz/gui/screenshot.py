"""`ganviz screenshot`: train N iterations in the real window offscreen and save what a
person would see."""
from __future__ import annotations

import os
import sys
import time


def main(args) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ganviz.core.config import Config

    from .app import make_app
    from .main_window import MainWindow

    try:
        width, height = (int(v) for v in str(getattr(args, "size", "1400x900")).lower().split("x"))
    except ValueError:
        print(f"ganviz: error: --size must look like 1400x900 (got {args.size!r})", file=sys.stderr)
        return 2
    app = make_app()
    window = MainWindow(Config(dataset=args.dataset))
    window.resize(width, height)
    window.show()
    steps = int(args.steps)
    deadline = time.monotonic() + 600
    _wait(app, lambda: window.errorDialog is not None or (
        window.run_info is not None and window.config.dataset == args.dataset), deadline)
    if window.errorDialog is not None:
        print(f"ganviz: error: {window.errorDialog.text().splitlines()[0]}", file=sys.stderr)
        window.shutdown()
        return 2
    window.toggle_training()
    _wait(app, lambda: len(window.history) and window.history.record(len(window.history) - 1).iteration >= steps,
          deadline)
    window.worker.pause()
    _wait(app, lambda: not window.running, deadline)
    window.step()   # end on a single step so the readout and markers show
    _wait(app, lambda: "update:" in window.stepReadout.text(), deadline)
    _wait(app, lambda: False, time.monotonic() + 0.5)   # let the last frame draw
    ok = window.grab().save(args.out)
    window.shutdown()
    if not ok:
        print(f"ganviz: error: cannot write {args.out}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


def _wait(app, condition, deadline):
    while not condition() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
