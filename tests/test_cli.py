"""The headless commands a person scripts: train writes a complete run folder and resumes it,
sample and eval read it back, and every mistake ends in one readable line and exit code 2."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganviz import cli
from ganviz.core.checkpoint import load_checkpoint
from ganviz.core.presets import VANILLA

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--batch-size", "32", "--noise-dim", "8"]


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def subprocess_run(*argv, cwd, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("GANVIZ_DEBUG", None)
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def assert_one_line_error(code, err, *words):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganviz: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    """One 30-iteration ring run shared by the read-only tests below."""
    out = tmp_path_factory.mktemp("runs") / "ring"
    assert cli.main(["train", "--dataset", "ring", "--steps", "30", "--out", str(out), *SMALL]) == 0
    return out


# ------------------------------------------------------------------ train
def test_train_writes_a_complete_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "train", "--dataset", "ring", "--steps", 30, "--out", out)
    assert code == 0
    assert sorted(os.listdir(out)) == ["checkpoint.pt", "config.json", "metrics.csv", "run.db", "samples.png",
                                       "snapshots"]
    assert json.loads((out / "config.json").read_text())["dataset"] == "ring"
    rows = csv_rows(out / "metrics.csv")
    assert len(rows) == 60 and [r["phase"] for r in rows[:2]] == ["D", "G"]  # k=1: 2 updates each
    assert rows[-1]["iteration"] == "30"
    assert load_checkpoint(out / "checkpoint.pt").iteration == 30
    with Image.open(out / "samples.png") as image:
        assert image.size[0] >= 256 and image.mode == "RGB"
    assert "trained 30 iterations" in stdout and "it/s" in stdout and "modes " in stdout
    assert "\r" in err and "30/30" in err and "loss_d" in err and "D(G(z))" in err
    from ganviz.core.store import RunReader
    store = RunReader(out)   # the same history as metrics.csv, and the run's first and last moments
    assert [str(v) for v in store.columns(["loss_d"])["loss_d"]] == [repr(float(r["loss_d"])) for r in rows]
    assert store.frame_updates()[0] == 0 and store.frame_updates()[-1] == 60
    assert list(store.snapshot_updates()) == [60]
    assert store.quality()[-1][0] == 60 and store.quality()[-1][1]["n_modes"] == 8


def test_resume_adds_iterations_and_applies_live_settings(tmp_path, capsys):
    out = tmp_path / "run"
    run(capsys, "train", "--dataset", "ring", "--steps", 20, "--out", out, *SMALL)
    code, stdout, _ = run(capsys, "train", "--resume", out, "--steps", 10, "--lr-d", "5e-4")
    assert code == 0 and "iteration 30 of the run" in stdout
    assert len(csv_rows(out / "metrics.csv")) == 60  # the whole history, old rows kept
    assert json.loads((out / "config.json").read_text())["lr_d"] == 5e-4
    trainer = load_checkpoint(out / "checkpoint.pt")
    # the default learning-rate decay scales the set value
    assert trainer.iteration == 30
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(5e-4, rel=0.01)
    from ganviz.core.store import RunReader
    store = RunReader(out)   # the same store, appended to: one history, both ends' moments
    assert np.array_equal(store.columns(["update"])["update"], np.arange(1, 61))
    assert np.array_equal(store._rows(), trainer.history.array(), equal_nan=True)
    assert {0, 40, 60} <= set(store.frame_updates()) and list(store.snapshot_updates()) == [40, 60]


def test_train_budget_mb_must_be_positive(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--dataset", "ring", "--steps", 1, "--out", tmp_path / "r", "--budget-mb", 0)
    assert code == 2 and "--budget-mb: 0 MB: the budget must be a positive number" in err


def test_resume_refuses_settings_that_need_new_networks(ring_run, capsys):
    code, _, err = run(capsys, "train", "--resume", ring_run, "--steps", 5, "--noise-dim", 3)
    assert_one_line_error(code, err, "noise_dim")


def test_train_refuses_to_overwrite_a_run(ring_run, capsys):
    code, _, err = run(capsys, "train", "--dataset", "ring", "--steps", 5, "--out", ring_run)
    assert_one_line_error(code, err, "--resume")


def test_checkpoint_every_saves_during_training(tmp_path, capsys, monkeypatch):
    import ganviz.cli_train as cli_train

    saves = []
    real_save = cli_train.save_checkpoint
    monkeypatch.setattr(cli_train, "save_checkpoint",
                        lambda t, p: (saves.append(t.iteration), real_save(t, p)))
    code, _, _ = run(capsys, "train", "--dataset", "ring", "--steps", 25, "--checkpoint-every", 10,
                     "--out", tmp_path / "run", *SMALL)
    assert code == 0 and saves == [10, 20, 25]


def test_train_digits_writes_an_image_grid(tmp_path, capsys):
    out = tmp_path / "digits"
    code, stdout, _ = run(capsys, "train", "--dataset", "digits", "--steps", 3, "--out", out, *SMALL)
    assert code == 0 and "digit classes" in stdout
    with Image.open(out / "samples.png") as image:
        assert image.mode == "L" and image.size[0] >= 8 * 48  # 8x8 grid, tiles enlarged
    code, stdout, _ = run(capsys, "eval", "--checkpoint", out / "checkpoint.pt", "--json")
    scores = json.loads(stdout)   # every image measure, and real data's own under "real"
    keys = {"precision", "recall", "density", "coverage", "kid", "nn_accuracy", "memorisation"}
    assert code == 0 and keys <= set(scores) and keys <= set(scores["real"])
    assert scores["coverage"] < scores["real"]["coverage"] and "classes_covered" in scores
    code, _, _ = run(capsys, "sample", "--checkpoint", out / "checkpoint.pt", "--n", 5,
                     "--out", tmp_path / "d.npy")
    x = np.load(tmp_path / "d.npy")
    assert code == 0 and x.shape == (5, 1, 8, 8) and x.min() >= -1 and x.max() <= 1


def test_preset_sets_config_and_options_override_it(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, _ = run(capsys, "train", "--dataset", "ring", "--preset", "Vanilla GAN", "--d-steps", 3,
                     "--steps", 2, "--out", out, *SMALL)
    config = json.loads((out / "config.json").read_text())
    assert code == 0 and config["d_steps"] == 3
    given = {"d_steps", "batch_size", "noise_dim"}   # the options above
    assert all(config[k] == v for k, v in VANILLA.changes.items() if k not in given)
    assert config["lr_d"] == 5e-5 and config["activation"] == "relu"   # not the defaults
    assert config["dataset"] == "ring"
    assert len(csv_rows(out / "metrics.csv")) == 2 * 4


def test_g_ema_option_averages_g_and_cannot_change_on_resume(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, _ = run(capsys, "train", "--dataset", "ring", "--g-ema", 0.99, "--steps", 3, "--out", out, *SMALL)
    assert code == 0 and json.loads((out / "config.json").read_text())["g_ema"] == 0.99
    assert load_checkpoint(out / "checkpoint.pt").generator_ema is not None
    code, _, err = run(capsys, "train", "--resume", out, "--steps", 1, "--g-ema", 0.999)
    assert_one_line_error(code, err, "g_ema")


def test_probe_every_option_sets_which_rows_have_scores(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, _ = run(capsys, "train", "--dataset", "ring", "--probe-every", 2, "--steps", 4, "--out", out, *SMALL)
    assert code == 0
    rows = csv_rows(out / "metrics.csv")
    measured = [int(r["iteration"]) for r in rows if r["d_fake_after"] not in ("", "nan")]
    assert measured == [1, 1, 3, 3]   # iterations that start at an even iteration count


# ------------------------------------------------------------------ sample, eval
def test_sample_writes_points(ring_run, tmp_path, capsys):
    code, stdout, _ = run(capsys, "sample", "--checkpoint", ring_run / "checkpoint.pt",
                          "--n", 123, "--out", tmp_path / "s.npy")
    x = np.load(tmp_path / "s.npy")
    assert code == 0 and x.shape == (123, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    assert os.listdir(tmp_path) == ["s.npy"]  # written atomically: no temp file left


def test_eval_prints_mode_scores(ring_run, capsys):
    code, stdout, _ = run(capsys, "eval", "--checkpoint", ring_run / "checkpoint.pt")
    assert code == 0 and stdout.startswith("iteration 30: modes ") and "/8" in stdout
    code, stdout, _ = run(capsys, "eval", "--checkpoint", ring_run / "checkpoint.pt", "--json")
    scores = json.loads(stdout)
    assert scores["n_modes"] == 8 and scores["iteration"] == 30
    assert 0 <= scores["high_quality"] <= 100


# ------------------------------------------------------------------ mistakes
def test_bad_dataset_name(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--dataset", "rign", "--out", tmp_path / "x")
    assert_one_line_error(code, err, "rign")
    assert not (tmp_path / "x").exists()  # nothing created for a run that never started


def test_missing_csv_file(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--dataset", f"csv:{tmp_path}/nope.csv", "--out", tmp_path / "x")
    assert_one_line_error(code, err, "nope.csv", "no such file")


@pytest.mark.parametrize("command", [["eval"], ["sample", "--out", "s.npy"]])
def test_corrupt_checkpoint(tmp_path, capsys, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.pt").write_bytes(b"PK\x03\x04 this is not a checkpoint")
    code, _, err = run(capsys, command[0], "--checkpoint", tmp_path / "bad.pt", *command[1:])
    assert_one_line_error(code, err, "bad.pt", "truncated or corrupt")


def test_resume_from_a_folder_without_a_checkpoint(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--resume", tmp_path, "--steps", 5)
    assert_one_line_error(code, err, "checkpoint.pt", "no such file")


def test_unwritable_output(tmp_path, capsys, ring_run):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    code, _, err = run(capsys, "train", "--dataset", "ring", "--steps", 2, "--out", blocker / "run")
    assert_one_line_error(code, err, "cannot create output folder")
    code, _, err = run(capsys, "sample", "--checkpoint", ring_run / "checkpoint.pt",
                       "--out", tmp_path / "missing" / "s.npy")
    assert_one_line_error(code, err, "does not exist")


def test_bad_config_value_and_device(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--dataset", "ring", "--beta1", 1.5, "--out", tmp_path / "x")
    assert_one_line_error(code, err, "beta1")
    code, _, err = run(capsys, "train", "--dataset", "ring", "--device", "warp", "--out", tmp_path / "x")
    assert_one_line_error(code, err, "warp")


def test_argparse_errors_exit_2(capsys):
    assert cli.main(["train", "--steps", "many"]) == 2
    assert cli.main(["screenshot", "--out", "x.png", "--size", "big"]) == 2
    assert cli.main(["frobnicate"]) == 2


def test_no_command_opens_the_window_or_says_why_not(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ganviz.gui.app", None)  # as if Qt were not installed
    code, _, err = run(capsys)
    assert_one_line_error(code, err, "cannot open the window")


def test_screenshot_arguments():
    args = cli.build_parser().parse_args(["screenshot", "--out", "shot.png"])
    assert (args.dataset, args.steps, args.out, args.size) == ("ring", 300, "shot.png", "1400x900")


# ------------------------------------------------------------------ real processes
def test_module_and_script_help(tmp_path):
    result = subprocess_run("-m", "ganviz", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert all(c in result.stdout for c in ("gui", "train", "sample", "eval", "screenshot"))
    result = subprocess_run(str(ROOT / "main.py"), "train", "--help", cwd=tmp_path)
    assert result.returncode == 0 and "--resume" in result.stdout and "additional" in result.stdout


def test_error_in_a_real_process_is_one_line(tmp_path):
    result = subprocess_run("-m", "ganviz", "train", "--dataset", "rign", cwd=tmp_path)
    assert_one_line_error(result.returncode, result.stderr, "unknown dataset")


@pytest.mark.slow(seconds=4)
def test_headless_commands_never_import_qt(tmp_path):
    code = """
import pkgutil, importlib, sys
import ganviz.core, ganviz.cli, ganviz.cli_train
for m in pkgutil.iter_modules(ganviz.core.__path__):
    importlib.import_module("ganviz.core." + m.name)
assert ganviz.cli.main(["train", "--dataset", "ring", "--steps", "2", "--out", "run"]) == 0
assert ganviz.cli.main(["eval", "--checkpoint", "run/checkpoint.pt"]) == 0
qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6"))
assert not qt, qt
"""
    result = subprocess_run("-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_ctrl_c_saves_and_exits_130(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ganviz", "train", "--dataset", "ring",
                             "--steps", "1000000", "--checkpoint-every", "5", "--out", "run", *SMALL],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "run" / "checkpoint.pt").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "training never saved"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"checkpoint saved" in err
    trainer = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert trainer.iteration >= 5 and trainer.d_done == 0
    assert len(csv_rows(tmp_path / "run" / "metrics.csv")) == trainer.updates
    assert (tmp_path / "run" / "samples.png").exists()
