"""The window's part of benchmarks/full_disk.sh, offscreen. "export DIR": write the four PNGs
and metrics.csv into DIR. "report DIR": do it again and print what the window said."""
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch  # noqa: E402,F401  (before the QApplication)

from ganviz.core.config import Config  # noqa: E402
from ganviz.gui.app import make_app  # noqa: E402
from ganviz.gui.main_window import MainWindow  # noqa: E402


def main(mode, folder):
    app = make_app()
    w = MainWindow(Config(dataset="ring", batch_size=32, hidden=16, noise_dim=8, probe_size=16))
    w.show()
    while w.run_info is None and w.errorDialog is None:
        app.processEvents()
    w.export_pngs(folder)
    if mode == "report":
        print("     PNG:", w.errorDialog.text() if w.errorDialog else "no message",
              "| status bar:", w.statusBar().currentMessage() or "(empty)")
        w.errorDialog = None
    w.export_csv(os.path.join(folder, "metrics.csv"))
    if mode == "report":
        print("     CSV:", w.errorDialog.text() if w.errorDialog else "no message")
    w.shutdown()


if __name__ == "__main__":   # spawn re-imports this module in the training process
    main(*sys.argv[1:3])
