"""A small diagram of the GAN: z -> G -> G(z) -> D -> score, and real x -> D.

Paused, it shows the next update: that network bright ("updates next"), the other grey
("frozen"). While training, both take turns. In slow motion it plays the stages of the last
update (stage_story.Stage): data runs forward along the edges in one colour, the gradient back
in another, stage by stage, with a legend saying which is which.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from .plots import D_COLOUR, G_COLOUR, REAL_COLOUR

FROZEN = QColor(200, 200, 205)
EDGE = QColor(90, 90, 90)
QUIET_EDGE = QColor(190, 190, 195)   # edges a stage does not use
FORWARD = QColor(120, 60, 200)       # data flowing forward (violet: no network's colour)
GRADIENT = QColor(215, 35, 60)       # the gradient flowing back (red)
FRAME_MS = 30


class PipelineDiagram(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("pipelineDiagram")
        self.setMinimumSize(330, 120)
        # grows to the height of the text beside it (slow motion's panel), never below 120 px
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.phase = "D"       # the network updating (or next to): "D", "G" or "both"
        self.caption = ""
        self.label = "updating"   # said under the bright network
        self.stage = None      # a stage_story.Stage while slow motion shows one
        self.conditional = "none"   # a run's conditioning: the label y goes into G with z and (but for
                                    # AC-GAN, whose D only guesses the class) into D with x
        self.progress = 1.0    # how far the stage's flow has run along its edges, 0..1
        self._started = 0.0
        self._duration = 1.0
        self._timer = QTimer(self, interval=FRAME_MS)
        self._timer.timeout.connect(self._tick)
        self.setToolTip("Which network is changing. In a D update, G only produces fakes and is "
                        "frozen; in a G update, gradients flow back through D, which stays frozen. "
                        "In slow motion: violet = data flowing forward, red = the gradient flowing back.")

    def set_phase(self, phase: str, caption: str = "", label: str = "updating"):
        """Show which network updates (or updates next); ends any stage shown. Training calls
        this with every batch (25 a second): unchanged, nothing is repainted."""
        shown = (phase, caption, label, None, 1.0)
        if shown == (self.phase, self.caption, self.label, self.stage, self.progress):
            return
        self._timer.stop()
        self.phase, self.caption, self.label, self.stage, self.progress = shown
        self.update()

    def set_stage(self, phase: str, stage, caption: str, seconds: float = 0.9):
        """Show one stage of an update, its flow running along the edges over `seconds`."""
        self.phase, self.caption, self.label, self.stage = phase, caption, "updating", stage
        self.progress = 0.0
        self._started, self._duration = time.perf_counter(), max(seconds, 0.05)
        self._timer.start()
        self.update()

    @property
    def animating(self) -> bool:
        return self._timer.isActive()

    def _tick(self):
        self.progress = min((time.perf_counter() - self._started) / self._duration, 1.0)
        if self.progress >= 1.0:
            self._timer.stop()
        self.update()

    def _flow(self, name):
        """(colour, direction, 0..1 drawn) of an edge in the current stage, or None."""
        s = self.stage
        if s is None:
            return None
        for groups, colour, direction in ((s.forward, FORWARD, 1), (s.backward, GRADIENT, -1)):
            for i, group in enumerate(groups):
                if name in group:
                    local = min(max(self.progress * len(groups) - i, 0.0), 1.0)
                    return colour, direction, local
        return None

    def paintEvent(self, event):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        w, h = self.width(), self.height()
        u = min(w / 10.0, 60.0)          # horizontal unit
        top, mid, bottom = 0.22 * h, 0.42 * h, 0.72 * h
        box_h = 0.32 * h
        font = QFont()
        font.setPointSizeF(max(8.0, u / 6.5))
        p.setFont(font)
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.85)

        def node(x, y, text, colour=QColor(250, 250, 250), border=QColor(120, 120, 120), width=1.4 * u, pen=2):
            r = QRectF(x, y - box_h / 2, width, box_h)
            p.setPen(QPen(border, pen))
            p.setBrush(colour)
            p.drawRoundedRect(r, 8, 8)
            p.setPen(Qt.black)
            p.drawText(r, Qt.AlignCenter, text)
            return r

        def head(at: QPointF, d: QPointF, colour):
            n = QPointF(-d.y(), d.x())
            path = QPainterPath(at)
            path.lineTo(at - d * 9 + n * 5)
            path.lineTo(at - d * 9 - n * 5)
            path.closeSubpath()
            p.setPen(QPen(colour, 1))
            p.setBrush(colour)
            p.drawPath(path)

        def arrow(name, a: QPointF, b: QPointF):
            v = b - a
            length = max((v.x() ** 2 + v.y() ** 2) ** 0.5, 1e-6)
            d = QPointF(v.x() / length, v.y() / length)
            flow = self._flow(name)
            base = EDGE if self.stage is None else QUIET_EDGE
            p.setPen(QPen(base, 2))
            p.drawLine(a, b)
            head(b, d, base)
            if flow is not None:
                colour, direction, local = flow
                start, end = (a, b) if direction > 0 else (b, a)
                tip = start + (end - start) * local
                p.setPen(QPen(colour, 4, Qt.SolidLine, Qt.RoundCap))
                if local > 0:
                    p.drawLine(start, tip)
                if 0 < local < 1:
                    p.setBrush(colour)
                    p.drawEllipse(tip, 5, 5)
                elif local >= 1:
                    head(end, d * direction, colour)
            if self.stage is not None and name in self.stage.blocked:
                centre = (a + b) / 2
                p.setPen(QPen(GRADIENT, 3))
                for s in (1, -1):
                    p.drawLine(centre + QPointF(-6, -6 * s), centre + QPointF(6, 6 * s))
                p.setFont(small)
                p.drawText(QRectF(centre.x() - u, centre.y() + 6, 2 * u, box_h * 0.5),
                           Qt.AlignHCenter | Qt.AlignTop, "no gradient")
                p.setFont(font)

        def network(x, y, name, colour, updating):
            changed = self.stage is not None and self.stage.changed == name and self.progress > 0
            fill = QColor(*colour) if updating else FROZEN
            border = QColor(*colour).darker(130) if updating else QColor(150, 150, 155)
            r = node(x, y, name, fill, GRADIENT if changed else border, width=1.3 * u, pen=4 if changed else 2)
            f = QFont(small)
            f.setBold(updating)
            p.setFont(f)
            p.setPen(QColor(*colour).darker(150) if updating else QColor(120, 120, 125))
            label = ("weights change" if changed else self.label) if updating else "frozen"
            p.drawText(QRectF(r.left() - 20, r.bottom() + 2, r.width() + 40, box_h * 0.6),
                       Qt.AlignHCenter | Qt.AlignTop, label)
            p.setFont(font)
            return r

        x0 = 0.2 * u
        y = self.conditional != "none"
        into_d = y and self.conditional != "acgan"
        z = node(x0, mid, "noise z\n+ label y" if y else "noise z", width=1.2 * u)
        g = network(z.right() + 0.6 * u, mid, "G", G_COLOUR, self.phase in ("G", "both"))
        fake = node(g.right() + 0.6 * u, mid, "G(z, y)\n+ label y" if into_d else "fake G(z, y)" if y else "fake G(z)",
                    width=1.5 * u)
        d = network(fake.right() + 0.7 * u, (mid + bottom) / 2, "D", D_COLOUR, self.phase in ("D", "both"))
        score_text = self.stage.score_label if self.stage is not None and self.stage.score_label else "score D(·)"
        room = w - d.right() - 0.7 * u
        wide = p.fontMetrics().horizontalAdvance(score_text) + 20
        if wide > room:   # a narrow window: the name above its value
            score_text = score_text.replace(" ", "\n", 1) if " " in score_text else score_text
            wide = max(p.fontMetrics().horizontalAdvance(line) for line in score_text.split("\n")) + 20
        score = node(d.right() + 0.6 * u, (mid + bottom) / 2, score_text, width=max(1.5 * u, min(wide, room)))
        real = node(fake.left(), bottom + 0.08 * h, "real x\n+ label y" if into_d else "real x",
                    QColor(*REAL_COLOUR).lighter(170), width=1.5 * u)
        arrow("z-G", QPointF(z.right(), mid), QPointF(g.left(), mid))
        arrow("G-fake", QPointF(g.right(), mid), QPointF(fake.left(), mid))
        arrow("fake-D", QPointF(fake.right(), mid), QPointF(d.left(), d.center().y() - box_h / 4))
        arrow("real-D", QPointF(real.right(), real.center().y()), QPointF(d.left(), d.center().y() + box_h / 4))
        arrow("D-score", QPointF(d.right(), d.center().y()), QPointF(score.left(), score.center().y()))
        caption_box = QRectF(0, 0, w, top * 0.9)
        if self.stage is not None:
            p.setFont(font)
            needed = p.fontMetrics().horizontalAdvance("  " + self.caption)
            p.setFont(small)
            legend = p.fontMetrics().horizontalAdvance("gradient (back)data") + 90
            if needed + legend + 8 <= w:   # beside the caption; in a narrow diagram, in its bottom corner
                caption_box.setRight(self._legend(p, small, QRectF(0, 0, w - 4, top * 0.9)) - 8)
            else:
                self._legend(p, small, QRectF(0, h - top * 0.6, w - 4, top * 0.6))
        if self.caption:
            p.setFont(font)
            p.setPen(QColor(40, 40, 40))
            p.drawText(caption_box, Qt.AlignLeft | Qt.AlignVCenter, "  " + self.caption)
        p.end()

    def _legend(self, p, font, r: QRectF) -> float:
        """Which colour is which, right-aligned in the caption's row; returns its left edge."""
        p.setFont(font)
        fm = p.fontMetrics()
        x = r.right()
        for colour, text in ((GRADIENT, "gradient (back)"), (FORWARD, "data")):
            x -= fm.horizontalAdvance(text)
            y = r.center().y()
            p.setPen(QColor(50, 50, 50))
            p.drawText(QRectF(x, r.top(), fm.horizontalAdvance(text) + 2, r.height()), Qt.AlignLeft | Qt.AlignVCenter, text)
            p.setPen(QPen(colour, 4, Qt.SolidLine, Qt.RoundCap))
            p.drawLine(QPointF(x - 24, y), QPointF(x - 6, y))
            x -= 36
        return x + 12
