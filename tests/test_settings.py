"""Settings declared once (core/config.py): every declared setting reaches `ganviz train`'s
options, the control panel, the live/Reset split and the validation without being listed
anywhere else."""
import dataclasses

import pytest

from ganviz import cli
from ganviz.cli_train import CONFIG_OPTIONS
from ganviz.core.config import LABELS, LIVE_FIELDS, SETTINGS, Config, ConfigError, in_words
from ganviz.core.settings import setting, settings_of
from ganviz.core.trainer import Trainer

SMALL = dict(dataset="ring", batch_size=32, noise_dim=8, hidden=16, probe_size=16, decay_steps=0)


def another_value(name: str, config: Config):
    """A valid value for the setting that differs from the one in `config`."""
    s, now = SETTINGS[name], getattr(config, name)
    if s.choices is not None:
        return next(v for v in s.choices if v != now)
    if isinstance(now, bool):
        return not now
    if isinstance(now, str):
        return "cpu" if now != "cpu" else "auto"
    for candidate in (now + 1, now * 0.5, now + 0.1, now - 1, 8):
        candidate = type(now)(candidate)
        if candidate != now and not list(s.problems(candidate)):
            return candidate
    raise AssertionError(f"no other valid value found for {name}")


def train_options():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return {a.dest: a for a in sub.choices["train"]._actions}


# ------------------------------------------------------------------ the declarations
def test_every_setting_is_declared_with_words_help_and_a_train_option():
    options = train_options()
    assert list(SETTINGS) == [f.name for f in dataclasses.fields(Config)]
    for name, s in SETTINGS.items():
        assert s.label and "_" not in s.label and s.help, name
        assert name in options, f"ganviz train has no option for {name}"
        if s.cli:   # generated: the option is named after the field and shows its default
            assert s.option in options[name].option_strings
            assert "(default " in options[name].help
            assert name in CONFIG_OPTIONS or name == "device"   # --device is also the load device
    assert options["lr_d"].option_strings == ["--lr-d"] and "(default 0.001)" in options["lr_d"].help
    assert "(default 0: off)" in options["g_ema"].help


def test_derived_lists_follow_the_declarations():
    assert LABELS == {name: s.label for name, s in SETTINGS.items()}
    assert set(LIVE_FIELDS) == {name for name, s in SETTINGS.items() if s.live}
    assert {"lr_d", "lr_g", "beta1", "beta2", "d_steps", "label_smoothing"} <= set(LIVE_FIELDS)
    assert not {"batch_size", "noise_dim", "objective", "seed", "dataset"} & set(LIVE_FIELDS)
    changed = Config().replace(lr_d=5e-4, noise_dim=5, objective="hinge")
    assert changed.needs_reset(Config()) == ["objective", "noise_dim"]


def test_a_field_without_a_declaration_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Half:
        declared: int = setting(1, "declared", help="has words")
        bare: int = 2

    with pytest.raises(TypeError, match="Half.bare"):
        settings_of(Half)


def test_a_new_declaration_brings_its_validation_and_words():
    """What a setting added to Config gets from its one line: range and limit checks with
    messages naming it, and the whole-number check from its type."""
    @dataclasses.dataclass(frozen=True)
    class Extra:
        warmup_steps: int = setting(100, "warm-up length", help="iterations before D trains",
                                    range="[0, inf)", most=10000, widget="spin")

    s = settings_of(Extra)["warmup_steps"]
    assert s.whole and s.widget_span() == (0, 10000)
    assert list(s.problems(-1)) == ["warmup_steps must not be negative (got -1)"]
    assert list(s.problems(2.5)) == ["warmup_steps must be a whole number (got 2.5)"]
    assert list(s.problems(20000)) == ["warmup_steps must be at most 10000 (got 20000)"]
    assert s.cli_help() == "iterations before D trains (default 100)"
    assert s.tooltip() == "Iterations before D trains (on Reset)."


def bad_values(s):
    """Values just outside what the declaration allows."""
    if s.choices is not None:
        yield "nope"
    if s.most is not None:
        yield s.most + 1
    if s.range is not None:
        lo, hi = (float(x) for x in s.range[1:-1].split(","))
        yield lo if s.range[0] == "(" else lo - 1
        if hi != float("inf"):
            yield hi if s.range[-1] == ")" else hi + 1


@pytest.mark.parametrize("name", [n for n, s in SETTINGS.items() if list(bad_values(s))])
def test_validation_refuses_values_outside_the_declared_range(name):
    s = SETTINGS[name]
    for bad in bad_values(s):
        with pytest.raises(ConfigError) as e:
            Config(**{name: bad})
        assert str(e.value).startswith(f"{name} must "), bad
        assert in_words(e.value).startswith(f"{s.label} must "), bad


# ------------------------------------------------------------------ the CLI
@pytest.mark.parametrize("name", [n for n, s in SETTINGS.items() if s.cli])
def test_each_train_option_parses_to_a_valid_setting(name):
    s = SETTINGS[name]
    value = another_value(name, Config())
    if isinstance(value, bool):
        argv = [s.option if value else "--no-" + s.option[2:]]
    else:
        argv = [s.option, str(value)]
    args = cli.build_parser().parse_args(["train", *argv])
    assert getattr(args, name) == value
    assert getattr(Config(**{name: getattr(args, name)}), name) == value
    # options not given stay None: a preset or a resumed run keeps its own values
    assert all(getattr(args, other) is None for other in CONFIG_OPTIONS if other != name)


# ------------------------------------------------------------------ the panel
def test_every_panel_setting_has_a_widget_with_its_words_and_a_train_option(qtbot):
    from PySide6.QtWidgets import QFormLayout

    from ganviz.gui.controls import PANEL_SETTINGS, ControlPanel, widget_name
    panel = ControlPanel(Config())
    qtbot.addWidget(panel)
    form = panel.layout()
    options = train_options()
    shown = [s.name for s in PANEL_SETTINGS]
    assert shown == ["objective", "conditional", "optimizer", "lr_d", "lr_g", "beta1", "beta2", "batch_size",
                     "noise_dim", "noise_clusters", "d_steps", "label_smoothing", "seed", "device"]
    for s in PANEL_SETTINGS:
        w = getattr(panel, widget_name(s.name))
        row, _ = form.getWidgetPosition(w)
        words = form.itemAt(row, QFormLayout.LabelRole).widget().text()
        assert words.lower() == s.label.lower(), s.name
        assert w.toolTip().endswith("(live)." if s.live else "(on Reset).")
        assert s.name in options
    assert set(panel.values()) == {"dataset", *shown}


def test_live_panel_settings_apply_at_once_and_the_others_wait_for_reset(qtbot):
    from PySide6.QtWidgets import QComboBox

    from ganviz.gui.controls import PANEL_SETTINGS, ControlPanel
    config = Config(**SMALL)
    panel = ControlPanel(config)
    qtbot.addWidget(panel)
    sent, pending = {}, []
    panel.liveChanged.connect(sent.update)
    panel.pendingChanged.connect(lambda names: pending.__setitem__(slice(None), names))
    for s in PANEL_SETTINGS:
        w = panel.widgets[s.name]
        if isinstance(w, QComboBox):
            if w.count() < 2:
                continue   # a device list with only auto and cpu on this machine: cpu is below
            w.setCurrentIndex((w.currentIndex() + 1) % w.count())
        else:
            w.setValue(w.value() + w.singleStep() if w.value() < w.maximum() else w.minimum())
    for s in PANEL_SETTINGS:
        if s.live:
            assert sent[s.name] == panel.values()[s.name] != getattr(config, s.name), s.name
            assert s.name not in pending
        else:
            assert s.name in pending and s.name not in sent, s.name
            assert s.label in panel.pendingLabel.text()


def test_trainer_applies_live_settings_and_holds_the_rest():
    trainer = Trainer(Config(**SMALL))
    for name, s in SETTINGS.items():
        if name in ("dataset", "device"):
            continue   # a new dataset or device is a new run, tested in test_gui
        value = another_value(name, trainer.config)
        before = getattr(trainer.config, name)
        pending = trainer.update_config(**{name: value})
        if s.live:
            assert pending == [] and getattr(trainer.config, name) == value, name
        else:
            assert pending == [name] and getattr(trainer.config, name) == before, name
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(trainer.config.lr_d)


def test_train_writes_settings_given_by_generated_options(tmp_path, capsys):
    """Options that only exist because the settings are declared (no hand-written line)
    reach the run: --hidden, --r1-gamma and --no-grey are in its config.json."""
    import json
    out = tmp_path / "run"
    assert cli.main(["train", "--dataset", "ring", "--steps", "3", "--batch-size", "32",
                     "--hidden", "16", "--r1-gamma", "0.5", "--no-grey", "--out", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert (saved["hidden"], saved["r1_gamma"], saved["grey"]) == (16, 0.5, False)
    assert cli.main(["train", "--resume", str(out), "--steps", "1", "--depth", "3"]) == 2
    assert "cannot change depth when resuming" in capsys.readouterr().err
