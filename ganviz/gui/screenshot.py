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
    from ganviz.core.atomic import WriteError, check_folder
    try:
        check_folder(args.out)   # before a minute of training
    except WriteError as e:
        print(f"ganviz: error: cannot write {e.path}: {e.cause}", file=sys.stderr)
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
    from ganviz.core.atomic import WriteError, write_bytes
    try:
        write_bytes(args.out, widget_png(window))
    except WriteError as e:
        print(f"ganviz: error: cannot write {e.path}: {e.cause}", file=sys.stderr)
        return 2
    finally:
        window.shutdown()
    print(f"wrote {args.out}")
    return 0


def widget_png(widget) -> bytes:
    """What `widget` shows, as PNG bytes: rendered in memory, so the file is written by the
    atomic writer (QPixmap.save would truncate a good file on a full disk)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    if not widget.grab().save(buffer, "PNG"):
        raise RuntimeError(f"Qt could not encode {widget.objectName() or 'the window'} as PNG")
    buffer.close()
    return bytes(data.data())


def _wait(app, condition, deadline):
    while not condition() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
