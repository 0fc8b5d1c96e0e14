"""A small diagram of the GAN: z -> G -> G(z) -> D -> score, and real x -> D.
The network being updated is drawn bright with "updating"; the frozen one grey with "frozen"."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from .plots import D_COLOUR, G_COLOUR, REAL_COLOUR

FROZEN = QColor(200, 200, 205)


class PipelineDiagram(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("pipelineDiagram")
        self.setMinimumSize(360, 120)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.phase = "D"       # the network being (or about to be) updated: "D", "G" or "both"
        self.caption = ""
        self.setToolTip("Which network is changing. In a D update, G only produces fakes and is "
                        "frozen; in a G update, gradients flow back through D, which stays frozen.")

    def set_phase(self, phase: str, caption: str = ""):
        self.phase, self.caption = phase, caption
        self.update()

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

        def node(x, y, text, colour=QColor(250, 250, 250), border=QColor(120, 120, 120), width=1.4 * u):
            r = QRectF(x, y - box_h / 2, width, box_h)
            p.setPen(QPen(border, 2))
            p.setBrush(colour)
            p.drawRoundedRect(r, 8, 8)
            p.setPen(Qt.black)
            p.drawText(r, Qt.AlignCenter, text)
            return r

        def arrow(a: QPointF, b: QPointF, colour=QColor(90, 90, 90)):
            p.setPen(QPen(colour, 2))
            p.drawLine(a, b)
            v = b - a
            length = max((v.x() ** 2 + v.y() ** 2) ** 0.5, 1e-6)
            d = QPointF(v.x() / length, v.y() / length)
            n = QPointF(-d.y(), d.x())
            head = QPainterPath(b)
            head.lineTo(b - d * 9 + n * 5)
            head.lineTo(b - d * 9 - n * 5)
            head.closeSubpath()
            p.setBrush(colour)
            p.drawPath(head)

        def network(x, y, name, colour, updating):
            fill = QColor(*colour) if updating else FROZEN
            border = QColor(*colour).darker(130) if updating else QColor(150, 150, 155)
            r = node(x, y, name, fill, border, width=1.3 * u)
            small = QFont(font)
            small.setPointSizeF(font.pointSizeF() * 0.85)
            small.setBold(updating)
            p.setFont(small)
            p.setPen(QColor(*colour).darker(150) if updating else QColor(120, 120, 125))
            label = "updating" if updating else "frozen"
            p.drawText(QRectF(r.left() - 10, r.bottom() + 2, r.width() + 20, box_h * 0.6),
                       Qt.AlignHCenter | Qt.AlignTop, label)
            p.setFont(font)
            return r

        x0 = 0.2 * u
        z = node(x0, mid, "noise z", width=1.2 * u)
        g = network(z.right() + 0.6 * u, mid, "G", G_COLOUR, self.phase in ("G", "both"))
        fake = node(g.right() + 0.6 * u, mid, "fake G(z)", width=1.5 * u)
        d = network(fake.right() + 0.7 * u, (mid + bottom) / 2, "D", D_COLOUR, self.phase in ("D", "both"))
        score = node(d.right() + 0.6 * u, (mid + bottom) / 2, "score D(·)", width=1.5 * u)
        real = node(fake.left(), bottom + 0.08 * h, "real x", QColor(*REAL_COLOUR).lighter(170), width=1.5 * u)
        arrow(QPointF(z.right(), mid), QPointF(g.left(), mid))
        arrow(QPointF(g.right(), mid), QPointF(fake.left(), mid))
        arrow(QPointF(fake.right(), mid), QPointF(d.left(), d.center().y() - box_h / 4))
        arrow(QPointF(real.right(), real.center().y()), QPointF(d.left(), d.center().y() + box_h / 4))
        arrow(QPointF(d.right(), d.center().y()), QPointF(score.left(), score.center().y()))
        if self.caption:
            p.setPen(QColor(40, 40, 40))
            p.drawText(QRectF(0, 0, w, top * 0.9), Qt.AlignLeft | Qt.AlignVCenter, "  " + self.caption)
        p.end()
