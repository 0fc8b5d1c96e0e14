"""Coherent state without a window: the Default preset and preset matching, on-screen words
for every setting, plain failure sentences from the training process, and the check for the
system libraries the window needs (main.py)."""
import dataclasses
import importlib.util
import os
import sys

import pytest

from ganviz.core.config import LABELS, Config, ConfigError, in_words, label
from ganviz.core.data import DataError, load_dataset
from ganviz.service.training import cannot_start
from ganviz.core.presets import PRESETS, apply_preset, matching_presets
from ganviz.gui import system_libs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_default_preset_brings_back_the_config_defaults():
    tweaked = apply_preset(Config(dataset="moons", seed=7), "Vanilla GAN").replace(depth=3, g_ema=0.99)
    back = apply_preset(tweaked, "Default")
    assert back == Config(dataset="moons", seed=7)   # the user's data and seed stay


def test_each_preset_is_recognised_in_the_settings_it_makes():
    for name in PRESETS:
        for base in (Config(), Config(dataset="grid", seed=3, batch_size=100, depth=5)):
            assert matching_presets(apply_preset(base, name)) == [name]
    assert matching_presets(Config()) == ["Default"]
    assert matching_presets(Config(lr_d=5e-4)) == []   # Custom


def test_every_setting_has_words_for_the_screen():
    names = [f.name for f in dataclasses.fields(Config)]
    assert set(LABELS) == set(names)
    for name in names:
        assert "_" not in LABELS[name], name
    assert [label(n) for n in ("r1_gamma", "lr_final", "decay_steps")] == \
        ["R1 penalty weight", "final learning-rate fraction", "decay length"]
    with pytest.raises(ConfigError) as e:
        Config(batch_size=0, lr_final=2.0)
    assert in_words(e.value) == ("batch size must be a positive number (got 0); "
                                 "final learning-rate fraction must be in [0, 1] (got 2.0)")


def test_a_missing_data_file_reads_as_one_plain_sentence(tmp_path):
    spec = f"csv:{tmp_path / 'nope.csv'}"
    with pytest.raises(DataError) as e:
        load_dataset(spec)
    assert cannot_start(spec, e.value) == f"Cannot read {tmp_path / 'nope.csv'}: no such file"
    with pytest.raises(DataError) as e:
        load_dataset("folder:/no/such/folder")
    assert cannot_start("folder:/no/such/folder", e.value) == "Cannot read /no/such/folder: no such folder"


def test_training_process_reports_a_bad_reset_and_keeps_the_run(tmp_path):
    """The training service itself: a Reset on a missing file sends one sentence with the traceback behind
    it, and the run it had stays."""
    from ganviz.protocol import messages as m
    from ganviz.service.training import TrainingService
    from ganviz.core.trainer import Trainer

    class Pipe:
        sent = []

        def send(self, message):
            self.sent.append(message)

    service = TrainingService(Pipe())
    small = Config(batch_size=16, hidden=8, probe_size=8, grid_size=16)
    service.trainer = trainer = Trainer(small)
    service.execute(m.Reset(small.replace(dataset=f"csv:{tmp_path}/gone.csv")))
    failed = Pipe.sent[-1]
    assert isinstance(failed, m.Failed)
    sentence, details = failed.message, failed.details
    assert sentence == f"Cannot read {tmp_path}/gone.csv: no such file"
    assert "Traceback" in details and "DataError" in details
    assert service.trainer is trainer


def test_reset_on_drawn_points_keeps_training_on_them():
    import numpy as np

    from ganviz.core.data import points_dataset
    from ganviz.protocol import messages as m
    from ganviz.service.training import TrainingService

    class Pipe:
        def send(self, message):
            pass

    points = np.random.default_rng(0).normal(size=(300, 2))
    small = Config(dataset="drawn", batch_size=16, hidden=8, probe_size=8, grid_size=16)
    service = TrainingService(Pipe())
    service.execute(m.Reset(small, points_dataset(points, name="drawn")))
    first = service.trainer
    service.execute(m.Reset(small.replace(seed=1)))
    assert service.trainer is not first
    assert np.allclose(service.trainer.dataset.data.numpy(), points.astype(np.float32))
    service.execute(m.Reset(small.replace(dataset="ring")))
    assert service.trainer.dataset.name == "ring"


# ---------------------------------------------------------------- system libraries (main.py)
def _main_module():
    spec = importlib.util.spec_from_file_location("ganviz_main_script", os.path.join(ROOT, "main.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_window_on_linux_x11_names_a_missing_system_library(monkeypatch, capsys):
    monkeypatch.setattr(system_libs.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(system_libs, "loadable", lambda name: name != "libxcb-cursor.so.0")
    main = _main_module()
    monkeypatch.setattr(sys, "argv", ["main.py"])
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(main, "bootstrap", lambda: pytest.fail("installed before checking"))
    with pytest.raises(SystemExit) as exit_:
        main.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "libxcb-cursor.so.0" in err and "sudo apt install libxcb-cursor0" in err


def test_no_check_without_x11_or_for_headless_commands(monkeypatch):
    monkeypatch.setattr(system_libs, "loadable", lambda name: False)   # nothing installed
    linux = "linux"
    assert system_libs.check_window_libraries({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}) is None
    assert system_libs.check_window_libraries({}) is None            # no X display
    assert not system_libs.uses_xcb({"DISPLAY": ":0"}, platform="darwin")
    assert system_libs.uses_xcb({"DISPLAY": ":0"}, platform=linux)
    assert system_libs.uses_xcb({"DISPLAY": ":1", "QT_QPA_PLATFORM": "xcb"}, platform=linux)
    assert not system_libs.uses_xcb({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0",
                                     "XDG_SESSION_TYPE": "wayland"}, platform=linux)
    main = _main_module()
    assert not main.opens_window(["train", "--dataset", "ring"]) and main.opens_window(["gui"])


def test_every_library_the_xcb_plugin_links_is_in_the_table():
    """The table is the plugin's real list: compare with its ELF NEEDED entries."""
    plugin = None
    try:
        import PySide6
        plugin = os.path.join(os.path.dirname(PySide6.__file__), "Qt", "plugins", "platforms", "libqxcb.so")
    except ImportError:
        pass
    if not plugin or not os.path.exists(plugin):
        pytest.skip("no PySide6 xcb plugin here")
    needed = set()
    qt_lib = os.path.join(os.path.dirname(plugin), "..", "..", "lib", "libQt6XcbQpa.so.6")
    for path in (plugin, qt_lib):
        needed |= _elf_needed(path)
    system = {n for n in needed if not n.startswith(("libQt6", "libc.", "libm.", "libstdc++", "libgcc_s",
                                                      "libgthread"))}
    assert system <= set(system_libs.XCB_LIBRARIES), system - set(system_libs.XCB_LIBRARIES)


def _elf_needed(path) -> set:
    """DT_NEEDED names of a 64-bit little-endian ELF file (no tools needed)."""
    import struct
    data = open(path, "rb").read()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    dynamic = next(s for s in sections if s[1] == 6)             # SHT_DYNAMIC
    strtab = sections[dynamic[6]]                                  # its sh_link: .dynstr
    names = set()
    for off in range(dynamic[4], dynamic[4] + dynamic[5], 16):
        tag, value = struct.unpack_from("<qQ", data, off)
        if tag == 0:
            break
        if tag == 1:                                               # DT_NEEDED
            start = strtab[4] + value
            names.add(data[start:data.index(b"\0", start)].decode())
    return names
