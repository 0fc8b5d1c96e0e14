"""Explore G: slerp keeps the noise on Gaussian noise's shell, the plane's corners are the
seeds', the nearest training images find a copy, and the dialog shows the service's answers
with the numbers behind them."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import QObject, QPointF, Qt, Signal

from ganviz.core import explore
from ganviz.core.config import Config
from ganviz.core.data import load_dataset
from ganviz.core.sample_metrics import RealReference
from ganviz.core.trainer import Trainer
from ganviz.protocol import messages as m
from ganviz.service.training import TrainingService

DIGITS = Config(dataset="digits", batch_size=16, channels=8, noise_dim=16, probe_size=8, grid_size=16, device="cpu")


def test_slerp_keeps_the_length_that_lerp_loses():
    a, b = explore.seed_noise(1, 128), explore.seed_noise(2, 128)
    path = explore.slerp(a, b, np.linspace(0, 1, 9))
    torch.testing.assert_close(path[0], a)
    torch.testing.assert_close(path[-1], b, rtol=1e-5, atol=1e-5)
    norms = path.norm(dim=1)
    assert torch.all(norms >= min(a.norm(), b.norm()) - 1e-4) and torch.all(norms <= max(a.norm(), b.norm()) + 1e-4)
    assert ((a + b) / 2).norm() < 0.8 * norms[4]   # the straight line's midpoint: far shorter
    assert explore.seed_noise(1, 128).equal(a)      # a seed is always the same z


def test_the_plane_has_the_seeds_at_its_corners():
    corners = torch.stack([explore.seed_noise(s, 64) for s in (1, 2, 3, 4)])
    mean = corners.norm(dim=1).mean()
    for i, (u, v) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        z = explore.plane_noise(corners, u, v)
        torch.testing.assert_close(z / z.norm(), corners[i] / corners[i].norm())
        assert z.norm() == pytest.approx(float(mean), rel=1e-5)
    assert explore.plane_noise(corners, 0.5, 0.5).norm() == pytest.approx(float(mean), rel=1e-5)


def test_a_training_image_is_found_as_its_own_copy_and_noise_is_not():
    digits = load_dataset("digits")
    nearest = explore.NearestReal(RealReference(digits.data), digits.data)
    found = nearest(digits.data[17].numpy(), k=3)
    assert found["indices"][0] == 17 and found["distances"][0] == 0 and found["ratio"] == 0
    noise = nearest(np.random.default_rng(0).uniform(-1, 1, (1, 8, 8)), k=3)
    assert noise["ratio"] > 1.5 and found["images"].shape == (3, 1, 8, 8)


class ServiceWorker(QObject):
    """The window's worker for the dialog: its questions answered at once by a real training
    service in this thread, its Explored answers emitted as the worker emits them."""
    explored = Signal(object)

    def __init__(self, config=DIGITS):
        super().__init__()
        self.service = TrainingService(self)   # this object is the service's channel too
        self.service.start(Trainer(config))
        self.service.trainer.train(30)

    def send(self, message):
        if isinstance(message, m.Command):
            self.service.execute(message)        # the dialog asks
        elif isinstance(message, m.Explored):
            self.explored.emit(message)          # the service answers

    def poll(self, timeout=0):
        return False


def test_the_dialog_shows_the_walk_the_nearest_images_and_the_plane(qtbot):
    from ganviz.gui.explorer import STEPS, ExplorerDialog
    dialog = ExplorerDialog(ServiceWorker())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.walk()
    assert all(not t.pixmap().isNull() for t in dialog.tiles)
    assert dialog.pathLabel.text().startswith("Seed 1 → seed 2 at iteration 30: t = 0.00, 0.12")
    assert len(dialog.path_ts) == STEPS
    qtbot.mouseClick(dialog.tiles[4], Qt.LeftButton)
    text = dialog.nearLabel.text()
    assert "the sample at t = 0.50" in text and "4 nearest training images" in text
    ratio = float(text.split("): ")[1].split(":")[0])
    assert ratio > 0 and ("a copy" in text) == (ratio < 0.3)
    assert all(not t.pixmap().isNull() for t in dialog.nearTiles)
    pad = dialog.pad
    qtbot.mousePress(pad, Qt.LeftButton, pos=QPointF(pad.width() - 1, 0).toPoint())
    assert dialog.planeLabel.text() == "u 1.00, v 0.00 between seeds 1, 2, 3, 4"
    assert not dialog.planeImage.pixmap().isNull()


def test_a_conditional_run_is_explored_one_class_at_a_time(qtbot):
    from ganviz.gui.explorer import ExplorerDialog
    worker = ServiceWorker(DIGITS.replace(conditional="concat"))
    dialog = ExplorerDialog(worker)
    qtbot.addWidget(dialog)
    dialog.set_classes(worker.service.trainer.classes)
    dialog.show()
    walks = []
    for label in (2, 7):
        dialog.classBox.setCurrentIndex(label)
        dialog.walk()
        walks.append([t.pixmap().toImage() for t in dialog.tiles])
        assert f"Seed 1 → seed 2, class {label} at iteration 30" in dialog.pathLabel.text()
    assert walks[0] != walks[1]   # the same noise, another class: other images
    qtbot.mouseClick(dialog.tiles[0], Qt.LeftButton)
    assert "the sample at t = 0.00" in dialog.nearLabel.text()
