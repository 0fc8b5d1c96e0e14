"""Branches: continue a stored run from one of its snapshots with changed settings, as a new
run (a child) that records its parent and the update it branched at.

The child's store starts with the parent's metric rows up to the branch point (the history the
snapshot continues from), so its own rows go on from there on the parent's axis and its
metrics.csv, timeline and --resume stand alone; the Runs panel draws a child from its branch
point on. `ganviz train --resume DIR` is the special case that continues a run's own latest
state in its own folder, with live settings only.

What carries over: the networks' weights always (a setting that changes their shapes is
refused), the optimizers' state where the optimizer stays the same (another optimizer starts
afresh), the data order, the noise generator and the counters. Data settings (dataset, its
ring parameters, image size, colour, seed) are refused: a branch continues on its parent's data.
"""
from __future__ import annotations

import os

from .checkpoint import fit_noise_state
from .config import SETTINGS, Config, ConfigError, label
from .store import RunStore
from .store_format import DB

# Settings that decide the data a run trains on (and its probe batch and fixed noise): a
# branch of another dataset is another run.
DATA_SETTINGS = ("dataset", "ring_modes", "ring_radius", "ring_sigma", "image_size", "grey", "seed")
# Settings that decide the networks' shapes: named when the weights cannot carry over.
SHAPE_SETTINGS = ("model", "noise_dim", "hidden", "depth", "channels", "conditional")


class BranchError(ValueError):
    """A branch that cannot be made; one plain sentence naming the run and the problem (a
    ValueError, so the CLI prints it as one line and exits with code 2)."""


def snapshot_at(reader, update: int | None) -> int:
    """The update of the snapshot a branch at `update` continues from: the latest one at or
    before it (None: the run's latest snapshot)."""
    folder, snapshots = reader.folder, reader.snapshot_updates()
    if len(snapshots) == 0:
        raise BranchError(f"{folder} has no snapshot to continue from (a run keeps one every "
                          "minute of training and at its end)")
    if update is None:
        return int(snapshots[-1])
    if update < 0 or update > len(reader):
        raise BranchError(f"{folder} has updates 0 to {len(reader)}; update {update} is not in it")
    before = snapshots[snapshots <= update]
    if len(before) == 0:
        raise BranchError(f"{folder} has no snapshot at or before update {update} (its first "
                          f"is at update {int(snapshots[0])})")
    return int(before[-1])


def branched_config(parent: Config, changes: dict, folder: str) -> Config:
    """The child's settings: the parent's with `changes`; refuses data settings by name."""
    changes = {k: v for k, v in changes.items() if getattr(parent, k, object()) != v}
    data = [name for name in DATA_SETTINGS if name in changes]
    if data:
        raise BranchError(f"cannot change {', '.join(label(n) for n in data)} in a branch of "
                          f"{folder}: a branch continues on its parent's data; start a new run instead")
    unknown = sorted(set(changes) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    return parent.replace(**changes)   # ConfigError names a bad value


def carry_over(parent, config: Config, folder: str):
    """A Trainer with `config` that goes on from `parent`'s state (see the module docstring)."""
    from .trainer import Trainer   # local: trainer is heavier

    if not config.needs_reset(parent.config):
        parent.update_config(**{k: getattr(config, k) for k in SETTINGS
                                if getattr(config, k) != getattr(parent.config, k)})
        return parent
    child = Trainer(config, dataset=parent.dataset)
    state = parent.state_dict(history=True)
    mismatched = _shape_mismatch(parent, child)
    if mismatched:
        changed = [label(n) for n in SHAPE_SETTINGS if getattr(config, n) != getattr(parent.config, n)]
        what = ", ".join(changed) if changed else "settings"
        raise BranchError(f"cannot continue {folder} with another {what}: the networks' weights "
                          f"do not fit the new shape ({mismatched}); start a new run instead")
    if config.optimizer != parent.config.optimizer:   # another optimizer's state means nothing here
        state["opt_g"], state["opt_d"] = child.opt_g.state_dict(), child.opt_d.state_dict()
    fit_noise_state(state, child.device)
    child.load_state_dict(state)
    child._apply_optimizer_settings()   # the loaded optimizer state brought the parent's rates
    return child


def _shape_mismatch(parent, child) -> str:
    """The first parameter whose shape differs between parent and child networks, or ""."""
    for name in ("generator", "discriminator"):
        ours, theirs = getattr(parent, name).state_dict(), getattr(child, name).state_dict()
        if ours.keys() != theirs.keys():
            return f"{name} layers differ"
        for key, value in ours.items():
            if value.shape != theirs[key].shape:
                return f"{name} {key}: {tuple(value.shape)} vs {tuple(theirs[key].shape)}"
    return ""


def continue_run(parent_folder, update: int | None, changes: dict, out_folder, *,
                 budget_mb: float = 500):
    """(Trainer, RunStore): the run in `parent_folder` as of its snapshot at or before
    `update` (None: its latest; trainer.updates says which one was used), with `changes`
    applied, writing a new run into `out_folder` whose meta records the parent's folder and
    the branch update. Raises StoreError / BranchError / ConfigError with a plain sentence."""
    from .run_reader import RunReader

    parent_folder, out_folder = os.fspath(parent_folder), os.fspath(out_folder)
    _check_out(parent_folder, out_folder)
    with RunReader(parent_folder) as reader:
        at = snapshot_at(reader, update)
        parent = reader.load_snapshot(at)
    # the snapshot's settings, not the run's first ones: live changes made since count
    config = branched_config(parent.config, changes, parent_folder)
    child = carry_over(parent, config, parent_folder)
    store = RunStore(out_folder, child, parent=os.path.abspath(parent_folder), parent_update=at,
                     budget_mb=budget_mb)
    try:   # the branch point, in the child's own folder: it stands without its parent
        store.maybe_snapshot(child, force=True)
    except BaseException:
        store.close()
        raise
    return child, store


def _check_out(parent_folder: str, out_folder: str) -> None:
    """A branch never writes into a folder that holds a run (its parent's least of all)."""
    if os.path.exists(out_folder) and os.path.exists(parent_folder) \
            and os.path.samefile(out_folder, parent_folder):
        raise BranchError(f"a branch of {parent_folder} needs a folder of its own (--out NEW)")
    for name in (DB, "checkpoint.pt"):
        if os.path.exists(os.path.join(out_folder, name)):
            raise BranchError(f"{out_folder} already holds a run; choose another folder for the branch")


