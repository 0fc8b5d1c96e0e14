"""The recorded training as an animated GIF or as PNG frames, drawn exactly as the timeline
shows each moment (a MomentPane, offscreen): the sample grid, or the 2D field with D's
heatmap, the real data, the fakes, G's gradient and manifold, captioned with the iteration.

A GIF holds its frames in memory while Pillow encodes it (about SIDE^2 bytes each once
reduced to a palette), so it takes every n-th recorded frame to stay within MAX_GIF_FRAMES;
PNG frames are written one at a time, each file whole or not at all (core/atomic.py)."""
from __future__ import annotations

import os
import traceback

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from ganviz.core.atomic import WriteError, atomic_write, check_folder

from .moment_view import MomentPane, run_points

SIDE = 480              # pixels on each side of a frame
MAX_GIF_FRAMES = 600    # ~140 MB of palette frames at 480 x 480: longer runs take every n-th
GIF_FPS = 10


def export_frames(reader, path: str, png: bool = False, fps: float = GIF_FPS, progress=None) -> int:
    """Write `reader`'s recorded frames to `path`: a GIF, or (png) a folder of PNGs named by
    frame and iteration. progress(done, total) may return False to stop (nothing is then
    written for a GIF; the PNGs written so far stay). Returns the frames written; raises
    atomic.WriteError when the file or folder cannot be written."""
    updates = reader.frame_updates()
    if not len(updates):
        raise ValueError(f"{getattr(reader, 'folder', 'the run')} has no recorded frames yet")
    if png:
        os.makedirs(path, exist_ok=True) if not os.path.isdir(path) else None
        check_folder(path)
    else:
        check_folder(os.path.dirname(os.path.abspath(path)))
        updates = updates[:: -(-len(updates) // MAX_GIF_FRAMES)]   # every n-th, n = ceil(len / MAX)
    pane = _pane(reader)
    images = []
    try:
        for i, update in enumerate(updates):
            if progress is not None and progress(i, len(updates)) is False:
                return i if png else 0
            at, payload = reader.frame(int(update))
            iteration = int(payload.get("iteration", 0))
            pane.show_moment(at, payload, f"iteration {iteration}")
            image = _pil(pane)
            if png:
                name = os.path.join(path, f"frame_{i + 1:05d}_iteration_{iteration:07d}.png")
                with atomic_write(name, "wb") as f:
                    image.save(f, format="PNG")
            else:
                images.append(image.quantize(256))   # palette now: a quarter of the memory
    finally:
        pane.deleteLater()
    if not png:
        with atomic_write(path, "wb") as f:
            images[0].save(f, format="GIF", save_all=True, append_images=images[1:],
                           duration=int(1000 / max(fps, 0.1)), loop=0)
    if progress is not None:
        progress(len(updates), len(updates))
    return len(updates)


def _pane(reader) -> MomentPane:
    pane = MomentPane("Export")
    if reader.dataset_kind == "points":
        for w in (*pane.fieldView.layerChecks.values(), pane.fieldView.note):   # the picture only
            w.hide()
    pane.setAttribute(Qt.WA_DontShowOnScreen)   # laid out and painted, never on screen
    pane.resize(SIDE, SIDE + 20)
    pane.show()
    pane.set_run(reader, *run_points(reader))
    return pane


def _pil(widget) -> Image.Image:
    image = widget.grab().toImage().convertToFormat(QImage.Format_RGB888)
    w, h = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * h)
    rows = data.reshape(h, image.bytesPerLine())[:, : 3 * w]   # lines may be padded
    return Image.fromarray(rows.reshape(h, w, 3).copy(), "RGB")


def has_frames(window) -> bool:
    """True if the window's timeline has recorded moments to export; else says so."""
    if window.timeline.reader is not None and len(window.timeline.frames):
        return True
    window._show_error("This run has no recorded moments to export: open a run folder (Open run…) "
                       "written by `ganviz train`.")
    return False


def export_from_window(window, path: str, png: bool) -> None:
    """Export the window's recorded run with a progress dialog that can cancel; problems go
    to the window's error dialog, the outcome to its status bar."""
    from PySide6.QtWidgets import QApplication, QProgressDialog
    if not has_frames(window):
        return
    dialog = QProgressDialog("Drawing the recorded frames…", "Cancel", 0, 0, window)
    dialog.setObjectName("exportProgress")
    dialog.setWindowModality(Qt.WindowModal)
    dialog.setMinimumDuration(500)

    def progress(done, total):
        dialog.setMaximum(total)
        dialog.setValue(done)
        QApplication.processEvents()
        return not dialog.wasCanceled()
    try:
        n = export_frames(window.timeline.reader, path, png=png, progress=progress)
    except (WriteError, OSError, ValueError) as e:
        window._show_error(f"{e}" if str(e).endswith(".") else f"{e}.", traceback.format_exc())
        return
    finally:
        dialog.close()
    if dialog.wasCanceled():
        window.statusBar().showMessage(f"Export cancelled ({n} PNG frames written to {path})" if png
                                       else "Export cancelled: no GIF written", 8000)
    else:
        window.statusBar().showMessage(f"Wrote {n} frames {'into' if png else 'to'} {path}", 8000)
