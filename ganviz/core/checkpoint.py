"""Save and load a whole run: networks, optimizers, config, counters, phase, RNG states and
metric history. Written atomically (core/atomic.py); a bad file gets a clear error and overwrites nothing."""
from __future__ import annotations

import os
import pickle
import stat

import torch

from .atomic import atomic_write
from .config import Config, ConfigError
from .data import BUILTIN_DATASETS, points_dataset
from .inputs import report_note

FORMAT = "ganviz-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


def save_checkpoint(trainer, path, state: dict | None = None, fsync: bool = True) -> None:
    """Write the trainer's whole run (or `state`, a state_dict of it) to `path`, all or
    nothing; raises atomic.WriteError naming the file and the cause (a full disk, ...)."""
    state = {"format": FORMAT, "version": VERSION, **(trainer.state_dict() if state is None else state)}
    with atomic_write(path, "wb", fsync=fsync) as f:
        torch.save(state, f)


def read_checkpoint(path) -> dict:
    """The raw state dict, checked for format; raises CheckpointError. Tensors come back on
    the CPU whatever device they were saved from; state["saved_on"] lists those devices
    ("cuda", "cpu", ...)."""
    name = os.fspath(path)
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        raise CheckpointError(f"{name}: no such file") from None
    except OSError as e:
        raise CheckpointError(f"{name}: cannot read ({e.strerror or e})") from None
    if stat.S_ISDIR(mode):
        raise CheckpointError(f"{name}: is a folder, not a checkpoint file")
    if not stat.S_ISREG(mode):  # a device or pipe would be read forever
        raise CheckpointError(f"{name}: not a regular file (a device, pipe or socket)")
    saved_on = set()

    def to_cpu(storage, location):
        saved_on.add(str(location).split(":")[0])
        return storage  # already in CPU memory: loading never touches the saved device

    try:
        state = torch.load(name, map_location=to_cpu, weights_only=True)
    except Exception as e:  # noqa: BLE001 - arbitrary bytes make torch.load raise nearly
        # anything (KeyError, IndexError, UnicodeDecodeError, ... from the unpickler)
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        if not isinstance(e, (RuntimeError, pickle.UnpicklingError)) or not first:
            first = f"{type(e).__name__}: {first}" if first else type(e).__name__
        raise CheckpointError(f"{name}: truncated or corrupt checkpoint ({first[:160]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{name}: not a ganviz checkpoint")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{name}: checkpoint version {state.get('version')} is not supported "
                              f"(this ganviz reads version {VERSION})")
    state["saved_on"] = sorted(saved_on)
    return state


def checkpoint_config(state, path) -> Config:
    try:
        return Config.from_dict(state["config"])
    except (ConfigError, TypeError, KeyError) as e:
        raise CheckpointError(f"{path}: checkpoint config is invalid ({e})") from None


def choose_device(config: Config, state: dict, device=None):
    """(device, config, note). A device asked for by the caller is used or refused in its
    own words; the device the run was saved with is used where it exists here, else the
    best one that does, with a note saying so (a run saved on a GPU box opens on a laptop).
    The config then says "auto", so a reset or restore builds on a device that exists."""
    from .trainer import resolve_device  # local: trainer is heavier
    if device:
        chosen = resolve_device(device)
    else:
        try:
            chosen = resolve_device(config.device)
        except ValueError:
            chosen = resolve_device("auto")
            config = config.replace(device="auto")
    asked = state["config"].get("device", "auto")
    was = next((d for d in state.get("saved_on", []) if d != "cpu"), None) \
        or (asked if asked != "auto" else "cpu")
    note = ""
    if str(was).split(":")[0] != chosen.type:
        why = "as asked" if device else f"no {str(was).split(':')[0].upper()} here"
        note = f"saved on {was}, opened on {chosen} ({why})"
    return chosen, config, note


def fit_noise_state(state: dict, device) -> str:
    """A noise generator's state is device-specific (the CPU's Mersenne Twister vs CUDA's
    Philox): where the saved one does not fit this device, the noise restarts from the
    run's seed and its update count. Returns a note, or ""."""
    try:
        torch.Generator(device=device).set_state(state["noise_gen"])
        return ""
    except (RuntimeError, KeyError, TypeError):
        config, counters = state["config"], state.get("counters", {})
        fresh = torch.Generator(device=device).manual_seed(
            int(config.get("seed", 0)) + 1 + int(counters.get("updates", 0)))
        state["noise_gen"] = fresh.get_state()
        return "the noise for the next batches is drawn afresh"


def load_checkpoint(path, device=None, dataset=None):
    """A Trainer that continues exactly where the saved run stood. On another device than
    it was saved on, trainer.load_note says so (also reported to the CLI's stderr)."""
    from .trainer import Trainer, dataset_for  # local: trainer is heavier

    state = read_checkpoint(path)
    config = checkpoint_config(state, path)
    # Asked for before the model is built, so these errors keep their own words (ValueError,
    # DataError) instead of reading as a mismatch between checkpoint and model.
    device, config, note = choose_device(config, state, device)
    if dataset is None:
        # Built-in data is regenerated from the config (same seed, same points) so it keeps
        # its mode centres for the scores; other points (drawn, csv) come from the checkpoint.
        # A stored path is read like any user input: data.py refuses devices and pipes.
        if state.get("points") is not None and config.dataset not in BUILTIN_DATASETS:
            dataset = points_dataset(state["points"].numpy(), name=config.dataset)
        else:
            dataset = dataset_for(config)
    noise_note = fit_noise_state(state, device)
    try:
        trainer = Trainer(config, dataset=dataset, device=device)
        trainer.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{path}: checkpoint does not match its model or data ({first[:200]})") from None
    saved = state.get("classes")
    if saved is not None and trainer.classes is not None and tuple(saved) != trainer.classes:
        # the same number of classes under other names (a renamed folder, another labels
        # file): G's rows would now draw other classes than the names say
        raise CheckpointError(f"{path}: the run's classes were {', '.join(saved[:10])}; the data's now are "
                              f"{', '.join(trainer.classes[:10])}")
    trainer.load_note = "; ".join(n for n in (note, noise_note) if n)
    if trainer.load_note:
        report_note(f"{os.fspath(path)}: {trainer.load_note}")
    return trainer
