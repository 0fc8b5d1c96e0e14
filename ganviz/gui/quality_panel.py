"""Sample quality, live: modes covered, % high quality and reverse KL with their history
(mixtures with known modes); for images coverage, precision and the other measures of
core/sample_metrics.py, each beside held-out real data's own; and a histogram of D's scores
on real versus fake samples."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ganviz.core.store_format import D_HISTOGRAM

from .plots import G_COLOUR, REAL_COLOUR

# Titles of the history plot; each run sets its own (a moons run has no digits title).
# Short enough for the panel at 1280x720; the tooltip says the rest.
WAITING_TITLE = "sample quality: measuring…"
MODES_TITLE = ("<span style='color:#28a05a'>&#9644; modes</span> "
               "<span style='color:#eb781e'>&#9644; high quality %</span>")
DIGITS_TITLE = "digit classes covered"
IMAGES_TITLE = ("<span style='color:#28a05a'>&#9644; coverage</span> "
                "<span style='color:#eb781e'>&#9644; precision</span> over iterations")
NO_SCORE_TITLE = "no quality score for this data"
WIDTH_TIP = ("high quality: samples within 3 sigma of a mode (real data: 98.9 %).\n"
             "mode width: how far those samples lie from their mode (RMS), as a percent of real data's.\n"
             "Under 100 %, G draws each mode narrower than the data, and high quality can pass 98.9 %.")
HIST_TITLE = ("D's scores: <span style='color:#28a05a'>&#9644; real</span> "
              "<span style='color:#eb781e'>&#9644; fake</span>")
HIST_NOT_RECORDED = "D's scores: not recorded at this moment"


class QualityPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("qualityPanel")
        self.setMaximumHeight(230)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        self.modesLabel = QLabel("quality –", objectName="modesLabel")
        self.modesLabel.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.detailLabel = QLabel("", objectName="qualityDetailLabel")
        self.detailLabel.setWordWrap(True)
        self.setToolTip("Modes covered: mixture components nearest to at least one high-quality sample. "
                        "High quality: within 3 standard deviations of a mode (2500 samples; the VEEGAN / "
                        "GDPP / PacGAN protocol). Reverse KL: KL(generated mode histogram || uniform).")
        left.addWidget(self.modesLabel)
        left.addWidget(self.detailLabel)
        self.historyPlot = pg.PlotWidget(background="w", objectName="qualityHistoryPlot")
        self._set_title(WAITING_TITLE)
        self.historyPlot.setLabel("bottom", "iteration")
        self.modesCurve = self.historyPlot.plot(pen=pg.mkPen(REAL_COLOUR, width=2), symbol="o", symbolSize=4)
        self.hqCurve = self.historyPlot.plot(pen=pg.mkPen(G_COLOUR, width=1))
        self.historyPlot.setMinimumHeight(100)
        self.historyPlot.setToolTip("Modes covered over the iterations; high quality % drawn on the same "
                                    "scale (100 % = every mode). Scored for the ring, grid and digits.")
        left.addWidget(self.historyPlot, 1)
        layout.addLayout(left, 1)

        self.histPlot = pg.PlotWidget(background="w", objectName="dHistogramPlot")
        self.histPlot.setTitle(HIST_TITLE, color="#222", size="9pt")
        self.histPlot.setToolTip("Histogram of D's output on the probe batch. Separated: D tells them apart; "
                                 "overlapping around 0.5: D is fooled.")
        self.realBars = pg.BarGraphItem(x=[], height=[], width=0.04, brush=pg.mkBrush(REAL_COLOUR + (150,)))
        self.fakeBars = pg.BarGraphItem(x=[], height=[], width=0.04, brush=pg.mkBrush(G_COLOUR + (150,)))
        self.histPlot.addItem(self.realBars)
        self.histPlot.addItem(self.fakeBars)
        layout.addWidget(self.histPlot, 1)
        self.history = []   # (iteration, modes covered, high quality %)
        self.recorded = False          # showing a past moment (the timeline): no live histogram
        self._live_histogram = None    # the last live histogram, drawn again back at live

    def _set_title(self, title: str):
        self.title = title
        self.historyPlot.setTitle(title, color="#222", size="9pt")

    def clear(self):
        """A new run: nothing of the last one stays, until its first scores arrive."""
        self.history.clear()
        self.modesCurve.setData([], [])
        self.hqCurve.setData([], [])
        self.realBars.setOpts(x=[], height=[])
        self.fakeBars.setOpts(x=[], height=[])
        self._live_histogram = None
        self.modesLabel.setText("quality –")
        self.detailLabel.clear()
        self.detailLabel.setToolTip("")
        self._set_title(WAITING_TITLE)
        self.historyPlot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)   # not the last run's axes
        self.historyPlot.enableAutoRange()

    def show_metrics(self, metrics: dict, iteration: int):
        if "coverage" in metrics:   # images: compared with real images, beside real data's own
            n, covered, hq = 1, metrics["coverage"], 100.0 * metrics["precision"]
            real = metrics.get("real", {})
            self.modesLabel.setText(f"coverage {covered:.2f} (real {real.get('coverage', float('nan')):.2f})")
            classes = f"digit classes {metrics['classes_covered']}/10   " if "classes_covered" in metrics else ""
            self.detailLabel.setText(asked_for(metrics) + classes + image_details(metrics))
            self.detailLabel.setToolTip(per_class(metrics))
            title = IMAGES_TITLE
        elif "modes_covered" in metrics:
            n, covered, hq = metrics["n_modes"], metrics["modes_covered"], metrics["high_quality"]
            self.modesLabel.setText(f"modes covered {covered}/{n}")
            width = metrics.get("width", float("nan"))
            self.detailLabel.setText(asked_for(metrics) + f"high quality {hq:.1f} %   reverse KL {metrics['reverse_kl']:.3f}"
                                     + (f"   mode width {width:.0f} % of real" if math.isfinite(width) else ""))
            self.detailLabel.setToolTip(WIDTH_TIP)
            title = MODES_TITLE
        elif "classes_covered" in metrics:
            n, covered, hq = 10, metrics["classes_covered"], float("nan")
            self.modesLabel.setText(f"digit classes {covered}/10")
            self.detailLabel.setText(f"class-histogram KL {metrics['kl']:.3f} (real data "
                                     f"{metrics.get('real_kl', float('nan')):.3f})")
            self.detailLabel.setToolTip("")
            title = DIGITS_TITLE
        else:
            self.modesLabel.setText("no known modes for this data")
            self.detailLabel.setText("ganviz scores the ring, grid and digits")
            self.detailLabel.setToolTip("")
            self.history.clear()
            self.modesCurve.setData([], [])
            self.hqCurve.setData([], [])
            self._set_title(NO_SCORE_TITLE)
            return
        if metrics.get("averaged"):   # the field draws G itself; these scores are not of it
            self.detailLabel.setText(self.detailLabel.text() + "   (scored on G's moving average)")
        self._set_title(title)
        if not self.history or self.history[-1][0] != iteration:
            self.history.append((iteration, covered, hq * n / 100.0))
        h = np.array(self.history, dtype=float)
        self.modesCurve.setData(h[:, 0], h[:, 1])
        self.hqCurve.setData(h[:, 0], h[:, 2], connect="finite")
        if len(h) == 1:   # one score (a run just opened at iteration 526): from 0, not 525.6-526.4
            self.historyPlot.setRange(xRange=(0, 1.1 * max(h[0, 0], 1.0)), yRange=(0, n))   # the dot inside
        else:
            self.historyPlot.enableAutoRange()
        if title == IMAGES_TITLE:   # shares from 0 to 1: a fixed axis, even while they sit at 0
            self.historyPlot.getPlotItem().vb.enableAutoRange(axis="y", enable=False)
            self.historyPlot.setYRange(0, 1, padding=0.02)

    def show_recorded(self, scores):
        """A recorded moment: the scores measured up to then ((iteration, metrics) in order),
        and D's score histogram kept with the last of them (a run stored before ganviz kept
        it: its plot says "not recorded" until show_live())."""
        live_histogram = self._live_histogram
        self.clear()
        self.recorded, self._live_histogram = True, live_histogram
        histogram = scores[-1][1].get(D_HISTOGRAM) if scores else None
        if histogram is not None:   # recorded with the moment's quality (runs since it was kept)
            self.show_histogram(*histogram, live=False)
            # its own line: beside the legend it was cut at the panel's width
            self.histPlot.setTitle(f"{HIST_TITLE}<br>(iteration {scores[-1][0]})", color="#222", size="9pt")
        else:
            self.histPlot.setTitle(HIST_NOT_RECORDED, color="#222", size="9pt")
        for iteration, metrics in scores[:-1]:   # the curve's points; the last one draws them
            point = _history_point(metrics)
            if point is not None and (not self.history or self.history[-1][0] != iteration):
                self.history.append((iteration,) + point)
        if scores:
            self.show_metrics(scores[-1][1], scores[-1][0])
        else:
            self.modesLabel.setText("quality: not measured yet at this moment")
            self._set_title("sample quality: none measured by this moment")

    def show_live(self):
        self.recorded = False
        self.histPlot.setTitle(HIST_TITLE, color="#222", size="9pt")
        if self._live_histogram is not None:
            self.show_histogram(*self._live_histogram)

    def show_histogram(self, edges, real_counts, fake_counts, live: bool = True):
        if live:
            self._live_histogram = (edges, real_counts, fake_counts)
            if self.recorded:
                return   # a recorded moment is shown: the live one waits for show_live()
        centres = (edges[:-1] + edges[1:]) / 2
        width = (edges[1] - edges[0]) * 0.45
        self.realBars.setOpts(x=centres - width / 2, height=real_counts, width=width)
        self.fakeBars.setOpts(x=centres + width / 2, height=fake_counts, width=width)


def asked_for(metrics: dict) -> str:
    """A conditional run's: how often G draws the class it was asked for, beside real data's
    score on the same test (the digit classifier's held-out accuracy; real points at their
    own mode), and the class G gets right least often."""
    if "label_accuracy" not in metrics:
        return ""
    if "modes_covered" in metrics:
        return (f"nearest the asked-for mode {100 * metrics['label_accuracy']:.1f} % "
                f"(real {100 * metrics['real_label_accuracy']:.1f} %)   ")
    text = f"asked-for digit {metrics['label_accuracy']:.2f} (real {metrics['real_label_accuracy']:.2f})"
    per_class = np.asarray(metrics.get("label_accuracy_per_class", []), float)
    if per_class.size and np.isfinite(per_class).any():
        worst = int(np.nanargmin(per_class))
        real = metrics.get("real_label_accuracy_per_class", [float("nan")] * per_class.size)[worst]
        text += f", weakest {worst}: {per_class[worst]:.2f} (real {real:.2f})"
    return text + "   "


def per_class(metrics: dict) -> str:
    """A conditional digits run's asked-for accuracy class by class, beside real digits'."""
    fake, real = metrics.get("label_accuracy_per_class"), metrics.get("real_label_accuracy_per_class")
    if not fake or not real:
        return ""
    return ("How often the digit classifier names the digit G was asked for (real: held-out real "
            "digits of that class):\n" + "\n".join(f"{k}: {f:.2f} (real {r:.2f})"
                                                  for k, (f, r) in enumerate(zip(fake, real))))


def image_details(metrics: dict) -> str:
    """Each image measure beside held-out real data's own, e.g. "precision 0.81 (real 0.96)"."""
    real = metrics.get("real", {})
    parts = []
    for key, name, fmt in (("precision", "precision", ".2f"), ("recall", "recall", ".2f"),
                           ("density", "density", ".2f"), ("kid", "KID", ".3f"),
                           ("nn_accuracy", "1-NN accuracy", ".2f"), ("memorisation", "memorisation", ".2f")):
        if key in metrics:
            parts.append(f"{name} {metrics[key]:{fmt}} (real {real.get(key, float('nan')):{fmt}})")
    return "   ".join(parts)


def _history_point(metrics: dict):
    """(covered, high quality on the modes' scale) as show_metrics draws it, or None."""
    if "coverage" in metrics:
        return metrics["coverage"], metrics["precision"]
    if "modes_covered" in metrics:
        return metrics["modes_covered"], metrics["high_quality"] * metrics["n_modes"] / 100.0
    if "classes_covered" in metrics:
        return metrics["classes_covered"], float("nan")
    return None
