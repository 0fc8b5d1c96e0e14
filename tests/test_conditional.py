"""Conditional GANs: labels come from every kind of labelled data, the label goes into both
networks (three ways), G draws the class it is asked for, and every view, file and command
keeps the classes: the grid shows a row per class, the field a class's heatmap, `sample
--label` one class, `eval` how often G draws the asked-for class beside real data's score."""
import gzip
import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganviz import cli
from ganviz.core.checkpoint import save_checkpoint
from ganviz.core.config import Config, ConfigError
from ganviz.core.data import load_dataset
from ganviz.core.evaluate import evaluate
from ganviz.core.inputs import reporting
from ganviz.core.saved_generator import open_generator
from ganviz.core.trainer import Trainer

RING = dict(dataset="ring", batch_size=64, hidden=32, noise_dim=8, probe_size=32, decay_steps=0)
DIGITS = dict(dataset="digits", batch_size=32, channels=8, noise_dim=16, probe_size=16)


# ------------------------------------------------------------------ labels from the data
def test_built_in_data_is_labelled_where_it_has_classes():
    digits, ring, moons = load_dataset("digits"), load_dataset("ring"), load_dataset("moons")
    assert digits.classes == tuple("0123456789") and np.bincount(digits.labels).min() > 170
    # each ring point belongs to the mode (class) it was drawn around
    near = np.linalg.norm(ring.data.numpy() - ring.modes[ring.labels], axis=1)
    assert ring.classes[0] == "mode 1" and len(ring.classes) == 8 and near.max() < 0.1
    upper = moons.data.numpy()[moons.labels == 0, 1].mean()
    assert moons.classes == ("upper moon", "lower moon") and upper > moons.data.numpy()[moons.labels == 1, 1].mean()
    assert not load_dataset("spiral").labelled


def test_a_folder_with_one_subfolder_per_class_is_labelled(tmp_path):
    for name, value in (("cats", 30), ("dogs", 220)):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.fromarray(np.full((8, 8), value, np.uint8)).save(tmp_path / name / f"{i}.png")
    data = load_dataset(f"folder:{tmp_path}", image_size=8)
    assert data.classes == ("cats", "dogs")
    dark = data.data.mean(dim=(1, 2, 3)) < 0   # the cats are the dark ones
    assert (dark.numpy() == (data.labels == 0)).all()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "loose.png")   # not in a class
    assert not load_dataset(f"folder:{tmp_path}", image_size=8).labelled


def _idx(path, magic, dims, values, gz=False):
    head = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    (gzip.open if gz else open)(path, "wb").write(head + bytes(values))


def test_an_idx_file_takes_its_labels_from_the_labels_file_beside_it(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (6, 8, 8), dtype=np.uint8)
    _idx(tmp_path / "train-images-idx3-ubyte.gz", 0x803, (6, 8, 8), images.tobytes(), gz=True)
    _idx(tmp_path / "train-labels-idx1-ubyte.gz", 0x801, (6,), [3, 7, 3, 7, 7, 3], gz=True)
    data = load_dataset(f"idx:{tmp_path / 'train-images-idx3-ubyte.gz'}")
    assert data.classes == ("3", "7") and data.labels.tolist() == [0, 1, 0, 1, 1, 0]
    # a labels file that does not fit: the images still load (to train unconditionally), and say why
    _idx(tmp_path / "train-labels-idx1-ubyte.gz", 0x801, (5,), [3, 7, 3, 7, 7], gz=True)
    notes = []

    class Reporter:
        def note(self, text):
            notes.append(text)

        def progress(self, *_):
            pass
    with reporting(Reporter()):
        data = load_dataset(f"idx:{tmp_path / 'train-images-idx3-ubyte.gz'}")
    assert len(data) == 6 and not data.labelled
    assert len(notes) == 1 and "5 labels for 6 images" in notes[0] and "without class labels" in notes[0]


def test_conditioning_on_unlabelled_data_is_refused_by_name():
    with pytest.raises(ConfigError, match="'spiral' has no class labels.*set conditioning to none"):
        Trainer(Config(**{**RING, "dataset": "spiral", "conditional": "concat"}))


# ------------------------------------------------------------------ the label in both networks
@pytest.mark.parametrize("conditional", ["concat", "projection", "acgan"])
def test_d_and_g_read_the_label(conditional):
    """Change only the label: a conditional G draws something else, and D (concat,
    projection) scores the same image differently; AC-GAN's D scores it the same but names
    another class."""
    t = Trainer(Config(**DIGITS, conditional=conditional))
    t.train(3)
    g, d = t.generator.eval(), t.discriminator.eval()
    z, x = torch.randn(4, 16), t.data[:4]
    zeros, fives = torch.zeros(4, dtype=torch.long), torch.full((4,), 5)
    with torch.no_grad():
        assert not torch.allclose(g(z, zeros), g(z, fives))
        (a, la), (b, lb) = d.score_and_logits(x, zeros), d.score_and_logits(x, fives)
    if conditional == "acgan":
        assert torch.equal(a, b) and la.shape == (4, 10) and torch.equal(la, lb)
    else:
        assert not torch.allclose(a, b) and la is None


@pytest.mark.parametrize("conditional", ["concat", "projection", "acgan"])
def test_a_conditional_g_learns_to_draw_the_asked_for_mode(conditional):
    t = Trainer(Config(**RING, conditional=conditional))
    t.train(400)
    scores = evaluate(t)
    assert scores["real_label_accuracy"] > 0.99
    assert scores["label_accuracy"] > 0.5, scores   # 1/8 by chance; unconditional G cannot aim


def test_acgan_losses_are_cross_entropies_of_raw_logits_and_the_formula_adds_up():
    from ganviz.gui.stage_story import formula
    t = Trainer(Config(**DIGITS, conditional="acgan", r1_gamma=0.0))
    d_stages, g_stages = {}, {}
    t.step_discriminator(stages=d_stages)
    t.step_generator(stages=g_stages)
    # an untrained classifier guesses: its cross-entropy on raw logits is near ln 10 per term (a
    # softmax before the cross-entropy would flatten its gradient and sit near it for good)
    assert abs(d_stages["class_loss"] - 2 * np.log(10)) < 1.0
    assert abs(d_stages["loss_real"] + d_stages["loss_fake"] + d_stages["class_loss"] - d_stages["loss_total"]) < 1e-5
    text = formula("D", d_stages, t.objective, t.config)
    assert "CE(class of x)" in text
    shown = text.split("=")[-2:]   # "a + b + c = total": the printed terms add up to the total
    terms = [float(v) for v in shown[0].replace("\u2212", "-").split("+")]
    assert abs(sum(terms) - float(shown[1])) < 1.5 * 10 ** -3
    assert "CE(class of G(z, y))" in formula("G", g_stages, t.objective, t.config)


# ------------------------------------------------------------------ what is shown and saved
def test_the_grid_has_a_row_per_class_with_the_same_noise_down_each_column():
    t = Trainer(Config(**{**DIGITS, "conditional": "concat", "grid_size": 0}))
    assert t.grid_columns == 8 and len(t.fixed_noise) == 80
    assert t.fixed_labels.tolist() == [k for k in range(10) for _ in range(8)]
    assert torch.equal(t.fixed_noise[:8], t.fixed_noise[72:])   # row 0 and row 9: the same styles
    assert t.samples().shape == (80, 1, 8, 8)


def test_sample_label_and_eval_json_read_the_classes_from_the_checkpoint(tmp_path, capsys):
    t = Trainer(Config(**DIGITS, conditional="concat"))
    t.train(5)
    path = tmp_path / "run.pt"
    save_checkpoint(t, path)
    saved = open_generator(path)
    assert saved.classes == tuple("0123456789")
    assert np.array_equal(saved.generate(50, label=7), t.generate(50, label=7))   # the same draws
    assert cli.main(["sample", "--checkpoint", str(path), "--n", "20", "--label", "7",
                     "--out", str(tmp_path / "sevens.npy")]) == 0
    assert "20 samples of class 7" in capsys.readouterr().out
    assert np.array_equal(np.load(tmp_path / "sevens.npy"), t.generate(20, label=7).astype(np.float32))
    assert cli.main(["sample", "--checkpoint", str(path), "--label", "11", "--out", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--label 11: no such class; this run's classes are 0, 1" in err[0]
    assert not (tmp_path / "x.npy").exists()
    assert cli.main(["eval", "--json", "--checkpoint", str(path)]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert 0 <= scores["label_accuracy"] <= 1 and len(scores["label_accuracy_per_class"]) == 10
    assert scores["real_label_accuracy"] > 0.9 and len(scores["real_label_accuracy_per_class"]) == 10


def test_sample_label_on_an_unconditional_run_says_so(tmp_path, capsys):
    t = Trainer(Config(**RING))
    save_checkpoint(t, tmp_path / "run.pt")
    assert cli.main(["sample", "--checkpoint", str(tmp_path / "run.pt"), "--label", "1",
                     "--out", str(tmp_path / "x.npy")]) == 2
    assert "this run is not conditional" in capsys.readouterr().err


def test_the_store_keeps_the_classes_and_the_field_redraws_a_class(tmp_path):
    from ganviz.core.field import FieldMirror, network_weights
    from ganviz.core.run_reader import RunReader
    from ganviz.core.store import RunStore
    t = Trainer(Config(**RING, conditional="projection"))
    t.train(30)
    store = RunStore(tmp_path / "run", t)
    store.close()
    reader = RunReader(tmp_path / "run")
    assert reader.classes == t.classes and np.array_equal(reader.fixed_labels, t.fixed_labels.numpy())
    assert len(reader.real_labels) == len(reader.real)
    mirror = FieldMirror.of_run(reader)
    mirror.load(network_weights(t))
    first = mirror.field((-2, 2, -2, 2), resolution=16)
    mirror.set_heat_class(5)
    fifth = mirror.field((-2, 2, -2, 2), resolution=16)
    assert first.heat_class == 0 and fifth.heat_class == 5
    assert not np.allclose(first.heatmap, fifth.heatmap)   # D(x, y) depends on y
    assert np.array_equal(first.fake_labels, reader.fixed_labels)


def test_the_window_shows_a_row_per_class_and_a_class_picker_for_the_field(window, qtbot):
    window.controls.set_config(Config(**DIGITS, conditional="concat"))
    window.reset()
    qtbot.waitUntil(lambda: window.run_info is not None and window.run_info.config.conditional == "concat",
                    timeout=30000)
    window.step_iteration()
    qtbot.waitUntil(lambda: window.sampleView.last_tiled is not None, timeout=10000)
    assert window.sampleView.columns == 8 and [n.textItem.toPlainText() for n in window.sampleView._names] == \
        list("0123456789")
    assert window.sampleView.last_tiled.shape == (10 * 9 + 1, 8 * 9 + 1)   # 10 rows of 8 (8 px + 1 px gaps)
    assert window.pipeline.conditional

    window.controls.set_config(Config(**RING, conditional="concat"))
    window.reset()
    qtbot.waitUntil(lambda: window.run_info.dataset_kind == "points" and bool(window.run_info.classes), timeout=30000)
    box = window.fieldView.heatClassBox
    assert box.isVisible() and box.count() == 8 and not window.fieldView.drawButton.isVisible()
    box.setCurrentIndex(3)
    qtbot.waitUntil(lambda: window.fieldView.current_field is not None
                    and window.fieldView.current_field.heat_class == 3, timeout=10000)
    assert "class mode 4" in window.fieldView.plot.titleLabel.text


def test_a_checkpoint_refuses_data_whose_classes_are_named_otherwise(tmp_path):
    from ganviz.core.checkpoint import CheckpointError, load_checkpoint
    for name, value in (("cats", 30), ("dogs", 220)):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8), value, np.uint8)).save(tmp_path / "data" / name / f"{i}.png")
    config = Config(dataset=f"folder:{tmp_path / 'data'}", image_size=8, conditional="concat",
                    batch_size=4, channels=8, noise_dim=8, probe_size=4)
    save_checkpoint(Trainer(config), tmp_path / "run.pt")
    assert load_checkpoint(tmp_path / "run.pt").classes == ("cats", "dogs")
    (tmp_path / "data" / "dogs").rename(tmp_path / "data" / "wolves")   # same count, other names
    with pytest.raises(CheckpointError, match="classes were cats, dogs; the data's now are cats, wolves"):
        load_checkpoint(tmp_path / "run.pt")


def test_an_acgan_field_says_its_heatmap_is_the_same_for_every_class(qtbot):
    from ganviz.core.field import compute_field
    from ganviz.gui.field_view import FieldView
    t = Trainer(Config(**RING, conditional="acgan"))
    t.train(5)
    view = FieldView()
    qtbot.addWidget(view)
    view.set_classes(t.classes, None, "acgan")
    t.heat_class = 2
    field = compute_field(t, (-2, 2, -2, 2), resolution=8)
    t.heat_class = 5
    assert np.array_equal(field.heatmap, compute_field(t, (-2, 2, -2, 2), resolution=8).heatmap)
    view.show_field(field)
    assert "D(x), the same for every class (AC-GAN); G manifold for class mode 3" in view.plot.titleLabel.text
    assert view.heatClassBox.itemText(0) == "G manifold for class mode 1"
