"""Time from a cold interpreter to the window on screen with its first run ready.

    python benchmarks/startup.py [--runs 3]
Each run is a fresh process that does what `ganviz` does: start the training process, import
torch and Qt, show and paint the window; then the first run (model, data, first samples) is
drawn.
"""
import argparse
import os
import statistics
import subprocess
import sys

CHILD = r"""
import time
t0 = time.perf_counter()
import os
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from ganviz.protocol.transports import ProcessTransport
training = ProcessTransport.start()   # as `ganviz` does: first thing
from ganviz.gui.app import make_app
from ganviz.gui.main_window import MainWindow
from ganviz.core.config import Config
app = make_app()
w = MainWindow(Config(), transport=training)
w.show()
app.processEvents()
shown = time.perf_counter() - t0
while w.fieldView.frames == 0 and w.sampleView.last_tiled is None:
    app.processEvents()
    time.sleep(0.005)
ready = time.perf_counter() - t0
w.shutdown()
print(f"{shown:.3f} {ready:.3f}")
"""


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    env = dict(os.environ, PYTHONPATH=root)
    shown, ready = [], []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-W", "ignore", "-c", CHILD], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        shown.append(float(out[-2]))
        ready.append(float(out[-1]))
        print(f"window shown {shown[-1]:.2f} s, first run drawn {ready[-1]:.2f} s")
    print(f"median: window shown {statistics.median(shown):.2f} s, first run drawn "
          f"{statistics.median(ready):.2f} s (goal: open in under 3 s)")


if __name__ == "__main__":
    main()
