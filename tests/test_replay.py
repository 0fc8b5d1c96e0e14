"""`ganviz replay`: a GIF with one frame per stored frame, PNG frames that show the stored
samples and the real data where they are, and one line for every bad input."""
import math
import os
import sqlite3

import numpy as np
import pytest
from PIL import Image

from ganviz import cli
from ganviz.cli_replay import FIELD_PIXELS, REAL
from ganviz.core.config import Config
from ganviz.core.render import tile
from ganviz.core.store import RunReader, RunStore
from ganviz.core.trainer import Trainer

TINY = {
    "ring": dict(batch_size=32, hidden=16, noise_dim=8, probe_size=32, grid_size=16, device="cpu"),
    "digits": dict(batch_size=16, channels=8, noise_dim=8, probe_size=16, grid_size=16, device="cpu"),
}


def stored_run(folder, name="ring", frames=6):
    trainer = Trainer(Config(dataset=name, **TINY[name]))
    store = RunStore(folder, trainer)
    for _ in range(frames - 1):
        store.add_records(trainer.train(3))
        store.maybe_frame(trainer, force=True)
    store.close()
    return folder


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["ring", "digits"])
def test_the_gif_has_one_frame_per_stored_frame(tmp_path, capsys, name):
    folder = stored_run(tmp_path / "run", name, frames=6)
    code, out, err = run(capsys, "replay", folder, "--out", tmp_path / "training.gif", "--fps", 5)
    assert code == 0, err
    assert out.strip() == f"wrote 6 frames (iterations 0 to 15) to {tmp_path / 'training.gif'}"
    with Image.open(tmp_path / "training.gif") as gif:
        assert gif.n_frames == len(RunReader(folder).frame_updates()) == 6
        assert gif.info["duration"] == 200
    code, out, _ = run(capsys, "replay", folder, "--out", tmp_path / "every.gif", "--every", 4)
    with Image.open(tmp_path / "every.gif") as gif:
        assert gif.n_frames == 2   # stored frames 0 and 4 of 6


def test_png_frames_show_the_stored_samples(tmp_path, capsys):
    folder = stored_run(tmp_path / "run", "digits", frames=3)
    code, out, err = run(capsys, "replay", folder, "--png", tmp_path / "frames")
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "frames")) == ["frame-00000.png", "frame-00001.png", "frame-00002.png"]
    reader = RunReader(folder)
    for i, update in enumerate(reader.frame_updates()):
        grid = tile(reader.frame(update)[1]["samples"], pad=1)
        with Image.open(tmp_path / "frames" / f"frame-{i:05d}.png") as png:
            picture = np.asarray(png.convert("L"))
        scale = math.ceil(320 / grid.shape[1])
        assert np.array_equal(picture[: grid.shape[0] * scale: scale, : grid.shape[1] * scale: scale], grid)
    # --out naming a folder writes PNG frames too
    assert run(capsys, "replay", folder, "--out", str(tmp_path / "more") + os.sep)[0] == 0
    assert len(os.listdir(tmp_path / "more")) == 3


def test_a_2d_frame_draws_the_real_data_where_it_is(tmp_path, capsys):
    folder = stored_run(tmp_path / "run", "ring", frames=2)
    assert run(capsys, "replay", folder, "--png", tmp_path / "frames")[0] == 0
    with Image.open(tmp_path / "frames" / "frame-00001.png") as png:
        picture = np.asarray(png.convert("RGB"))
    assert picture.shape == (FIELD_PIXELS + 22, FIELD_PIXELS, 3)
    real = RunReader(folder).real
    # the view fits the ring with a margin: find it as the replay does, then look at each point
    from ganviz.cli_replay import FieldPainter
    painter = FieldPainter(RunReader(folder))
    painter(RunReader(folder).frame(0)[1])
    painter(RunReader(folder).frame(10_000)[1])
    x0, x1, y0, y1 = painter.extent
    col = np.round((real[:, 0] - x0) / (x1 - x0) * (FIELD_PIXELS - 1)).astype(int)
    row = np.round((y1 - real[:, 1]) / (y1 - y0) * (FIELD_PIXELS - 1)).astype(int)
    colours = picture[row, col].astype(int)
    # each real point's centre shows a real point (its fill, or a neighbour's white rim), never
    # a fake or the heatmap: the real data is drawn on top, at its place
    drawn = (np.abs(colours - REAL).max(axis=1) <= 10) | (colours.min(axis=1) >= 250)
    assert drawn.all() and (np.abs(colours - REAL).max(axis=1) <= 10).mean() > 0.5


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    folder = stored_run(tmp_path / "run", frames=2)
    (tmp_path / "plain").mkdir()
    (tmp_path / "a_file").write_text("")
    empty = stored_run(tmp_path / "empty", frames=1)
    with sqlite3.connect(empty / "run.db") as db:   # a run whose frames are gone
        db.execute("DELETE FROM frames")
    cases = [
        (["replay", tmp_path / "nope", "--out", tmp_path / "x.gif"], f"{tmp_path / 'nope'}: no such folder"),
        (["replay", tmp_path / "plain", "--out", tmp_path / "x.gif"],
         f"{tmp_path / 'plain'} is not a ganviz run (it has no run.db)"),
        (["replay", empty, "--out", tmp_path / "x.gif"], f"{empty} has no frames yet"),
        (["replay", folder, "--out", tmp_path / "a_file" / "x.gif"],
         f"cannot write {tmp_path / 'a_file' / 'x.gif'}: {tmp_path / 'a_file'} is a file, not a folder"),
        (["replay", folder, "--png", tmp_path / "a_file"], f"{tmp_path / 'a_file'} is a file, not a folder"),
        (["replay", folder, "--out", tmp_path / "x.mp4"], "give a .gif file, or a folder"),
        (["replay", folder], "replay needs --out FILE.gif"),
        (["replay", folder, "--out", tmp_path / "x.gif", "--fps", "0"], "--fps must be a positive number"),
    ]
    for argv, words in cases:
        code, out, err = run(capsys, *argv)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("ganviz: error: "), (argv, err)
        assert words in lines[0], (words, lines[0])
    assert not os.path.exists(tmp_path / "x.gif")
    code, _, err = run(capsys, "replay", folder, "--out", tmp_path / "x.gif", "--every", "0")
    assert code == 2 and "--every: 0: must be at least 1" in err
