"""`ganviz train`: the headless training loop with a progress line, periodic checkpoints,
and a run folder: the run store (run.db, snapshots/: core/store.py) for the window's timeline
and `ganviz replay`, and config.json, metrics.csv, checkpoint.pt, samples.png for other tools."""
from __future__ import annotations

import copy
import math
import os
import re
import signal
import sys
import threading
import time

import numpy as np
import torch

from .cli import EXIT_INTERRUPTED, EXIT_NONFINITE, SETTING_OPTIONS, UserError
from .core.atomic import atomic_write
from .core.checkpoint import load_checkpoint, save_checkpoint
from .core.config import Config, ConfigError
from .core.evaluate import evaluate, format_metrics
from .core.render import grid_png, scatter_png
from .core.store import RunStore
from .core.trainer import Trainer

# Options whose argparse names are Config fields; None means "not given". --device also
# chooses where a resumed run loads, so it is handled on its own.
CONFIG_OPTIONS = tuple(name for name in SETTING_OPTIONS if name != "device")
CHUNK_SECONDS = 0.25   # train() this long between looks at the clock, progress and Ctrl+C
MAX_CHUNK = 200
SCATTER_POINTS = 2000
SNAPSHOT_SECONDS = 2.0   # how often the last finite state is copied in memory, to write if the run diverges


def train_command(args, presets: dict) -> int:
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads must be at least 1 (got {args.threads})")
        torch.set_num_threads(args.threads)
    if not getattr(args, "distributed", False):
        return _train_command(args, presets)
    ranks = _join(args)
    try:
        return _train_command(args, presets, ranks)
    finally:
        ranks.close()


def _join(args):
    """This process's place under torchrun (core/distributed.py); its device becomes --device."""
    from .core.distributed import start
    if args.from_run or args.at is not None:
        raise UserError("--distributed trains a new run or continues one with --resume; branch "
                        "with --from in one process, then --resume the branch under torchrun")
    try:
        ranks = start(args.device)
    except ConfigError as e:
        raise UserError(str(e)) from None
    args.device = str(ranks.device)
    return ranks


def _train_command(args, presets: dict, ranks=None) -> int:
    changes = {}
    if getattr(args, "preset", None):
        changes.update(presets[args.preset].changes)
    changes.update({k: getattr(args, k) for k in CONFIG_OPTIONS if getattr(args, k) is not None})
    store, new = None, False
    if getattr(args, "from_run", None) or getattr(args, "at", None) is not None:
        trainer, out, store = _branch(args, changes)
        saved = None
    elif args.resume:
        trainer, out = _resume(args, changes)
        saved = trainer.updates    # the checkpoint in DIR holds this state
    else:
        trainer, out = _start(args, changes)
        saved, new = None, True
    if ranks is not None:
        try:
            trainer.distribute(ranks)
        except ConfigError as e:
            raise UserError(str(e)) from None
        if not ranks.writer:   # the same updates as rank 0, nothing written, nothing printed
            return _train_quietly(args, trainer)
    if new:   # its folder, once nothing can refuse the run
        _make_folder(out)
        _write_config(trainer, out)
    if store is None:
        store = RunStore(out, trainer, budget_mb=getattr(args, "budget_mb", 500))
    try:
        code = _train_into(args, trainer, out, saved, store)
    except BaseException:
        _close_quietly(store)   # what was committed stays; the first error is the one to tell
        raise
    store.close()
    return code


def _close_quietly(store):
    try:
        store.close()
    except Exception:   # noqa: BLE001 - a full disk fails the last commit too
        pass


def _train_into(args, trainer, out, saved, store) -> int:
    progress = Progress(args.steps)
    guard = FiniteGuard(trainer, saved)
    with StopOnCtrlC() as stop:
        try:
            done, seconds = train_loop(trainer, out, args.steps, args.checkpoint_every, progress, stop,
                                       guard, store)
            progress.close()
            if guard.bad is None and not weights_finite(trainer):
                guard.bad = trainer.history.record(len(trainer.history) - 1)
            if guard.bad is not None:
                return _stop_diverged(trainer, out, guard)
            save_outputs(trainer, out, final=True)
            store.maybe_frame(trainer, force=True)   # the last moment, as samples.png shows it
            store.maybe_snapshot(trainer, force=True)
        except KeyboardInterrupt:  # a second Ctrl+C: leave at once; the last save stands
            progress.close()
            print("ganviz: interrupted again: stopped without saving", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            progress.close()   # a failed write's message starts on a line of its own
    rate = f" ({done / seconds:.1f} it/s)" if done and seconds > 0 else ""
    metrics = evaluate(trainer)
    store.add_quality(trainer.updates, metrics)
    line = format_metrics(metrics)
    print(f"trained {done} iterations in {seconds:.1f} s{rate}; iteration {trainer.iteration} "
          f"of the run" + (f"; {line}" if line else ""))
    if stop.requested:
        print(f"interrupted: checkpoint saved to {os.path.join(out, 'checkpoint.pt')}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"saved to {out}")
    return 0


def _train_quietly(args, trainer) -> int:
    """A rank other than 0: train in step with the others; rank 0 writes and reports."""
    with StopOnCtrlC(say=False) as stop:
        train_loop(trainer, None, args.steps, args.checkpoint_every, Progress(args.steps, stream=_Silent()), stop)
    return 0


class _Silent:
    def write(self, text):
        pass

    def flush(self):
        pass


def _start(args, changes):
    if args.dataset:
        changes["dataset"] = args.dataset
    if "dataset" not in changes:
        raise UserError("train needs --dataset DATA (or --resume DIR)")
    if args.device:
        changes["device"] = args.device
    config = Config.from_dict(changes)
    out = args.out or _default_out(config.dataset)
    if os.path.exists(os.path.join(out, "checkpoint.pt")):
        raise UserError(f"{out} already holds a run; continue it with --resume {out} "
                        "or choose another --out")
    trainer = Trainer(config)  # the data first: a bad dataset leaves no empty folder (made by the caller)
    return trainer, out


def _resume(args, changes):
    if args.out:
        raise UserError("--resume DIR writes back to DIR; leave out --out")
    trainer = load_checkpoint(os.path.join(args.resume, "checkpoint.pt"), device=args.device)
    if args.dataset and args.dataset != trainer.config.dataset:
        raise UserError(f"{args.resume} was trained on {trainer.config.dataset}, not {args.dataset}")
    needs_model = trainer.config.replace(**changes).needs_reset(trainer.config)
    if needs_model:
        raise UserError(f"cannot change {', '.join(needs_model)} when resuming (it needs new "
                        "networks); start a new run instead")
    trainer.update_config(**changes)
    return trainer, args.resume


def _branch(args, changes):
    """--from DIR [--at UPDATE] --out NEW: a child run of DIR (core/branch.py)."""
    from .core.branch import continue_run
    if not args.from_run:
        raise UserError("--at UPDATE needs --from DIR (the run to branch)")
    if args.resume:
        raise UserError("--from and --resume do not go together: --resume DIR continues DIR's own "
                        "latest state in DIR; --from DIR --out NEW branches it into a new folder")
    if not args.out:
        raise UserError("--from DIR needs --out NEW, the branch's own folder")
    if args.dataset:
        changes["dataset"] = args.dataset
    if args.device:
        changes["device"] = args.device
    trainer, store = continue_run(args.from_run, args.at, changes, args.out,
                                  budget_mb=getattr(args, "budget_mb", 500))
    print(f"ganviz: continuing {args.from_run} from its snapshot at update {trainer.updates} "
          f"(iteration {trainer.iteration}) in {args.out}", file=sys.stderr)
    return trainer, args.out, store


def train_loop(trainer, out, steps, checkpoint_every, progress, stop, guard=None,
               store=None) -> tuple[int, float]:
    """Train `steps` iterations in chunks sized to about CHUNK_SECONDS each, so records are
    fetched in batches yet the progress line and Ctrl+C stay responsive. Stops at the first
    non-finite loss (guard.bad says which). Every record goes to the run store, with frames
    and snapshots on its schedule while the losses are finite. Returns (iterations done,
    seconds spent training)."""
    guard = guard or FiniteGuard(trainer, None)
    done, chunk, spent = 0, 1, 0.0
    last_d = last_g = probed = None
    ranks = trainer.ranks
    while done < steps:
        n = min(chunk, steps - done)
        if checkpoint_every:
            n = min(n, checkpoint_every - done % checkpoint_every)
        requested = stop.requested
        if ranks is not None:   # under torchrun every rank trains the same chunk, or all stop
            n, requested = ranks.agree(n, requested)
        if requested:
            stop.requested = True
            break
        t0 = time.perf_counter()
        records = trainer.train(n)
        took = time.perf_counter() - t0
        spent += took
        done += n
        if store is not None:
            store.add_records(records)   # the non-finite ones too: where a run went wrong
            store.release(trainer.history)   # older rows are read back from the store
        guard.bad = next((r for r in records if not r.is_finite), None)
        if guard.bad is not None:
            break
        guard.take()
        if store is not None:
            store.maybe_frame(trainer)
            store.maybe_snapshot(trainer)
        chunk = max(1, min(MAX_CHUNK, int(CHUNK_SECONDS * n / max(took, 1e-9))))
        last_d = next((r for r in reversed(records) if r.phase == "D"), last_d)
        last_g = next((r for r in reversed(records) if r.phase == "G"), last_g)
        probed = next((r for r in reversed(records) if r.phase == "G" and math.isfinite(r.d_fake_after)), probed)
        progress.update(done, done / spent if spent else 0.0, last_d, last_g, probed)
        if checkpoint_every and done % checkpoint_every == 0 and done < steps:
            if not weights_finite(trainer):   # the last update's loss was finite, its result is not
                guard.bad = records[-1]
                break
            if out is not None:   # None: a rank other than 0, which writes nothing
                save_outputs(trainer, out, final=False)
            guard.saved = trainer.updates
    progress.update(done, done / spent if spent else 0.0, last_d, last_g, probed, force=True)
    return done, spent


class FiniteGuard:
    """The last state whose losses were all finite, copied every SNAPSHOT_SECONDS, to write
    as the checkpoint if the run diverges; `saved`: the updates of the checkpoint already in
    the folder (None: none yet); `bad`: the first non-finite record."""

    def __init__(self, trainer, saved):
        self.trainer, self.saved, self.bad = trainer, saved, None
        self.time = -math.inf
        self.take()

    def take(self):
        now = time.monotonic()
        if now - self.time >= SNAPSHOT_SECONDS:
            self.state = copy.deepcopy(self.trainer.state_dict(history=False))
            self.rows, self.updates, self.time = len(self.trainer.history), self.trainer.updates, now


def weights_finite(trainer) -> bool:
    return all(bool(torch.isfinite(p).all()) for net in (trainer.generator, trainer.discriminator)
               for p in net.parameters())


def _stop_diverged(trainer, out, guard) -> int:
    """One line on stderr: where the run diverged and which checkpoint stands; exit 3. A
    checkpoint already in the folder is never replaced by a non-finite state."""
    bad, path = guard.bad, os.path.join(out, "checkpoint.pt")
    loss = "loss_d" if bad.phase == "D" else "loss_g"
    value = getattr(bad, loss)
    what = f"{loss} became {value}" if not math.isfinite(value) else "the weights became NaN or infinite"
    if guard.saved is None or guard.updates > guard.saved:
        state = guard.state
        state["history"] = torch.from_numpy(trainer.history.rows(0, guard.rows))
        trainer.load_state_dict(state)
        save_outputs(trainer, out, final=True)
        kept = f"saved the last finite state (iteration {trainer.iteration}) to {path}"
    else:
        kept = f"kept {path} as it was (iteration {_iteration_of(guard)})"
    print(f"ganviz: {what} at iteration {bad.iteration} ({bad.phase} update {bad.update}); "
          f"stopped and {kept}; try a lower learning rate", file=sys.stderr)
    return EXIT_NONFINITE


def _iteration_of(guard) -> int:
    return guard.state["counters"]["iteration"]


def save_outputs(trainer, out, final: bool) -> None:
    """config.json, checkpoint.pt and metrics.csv (always consistent with each other), and at
    the end samples.png. Every file is written atomically; a failure raises atomic.WriteError
    naming the file, and leaves the previous one as it was."""
    save_checkpoint(trainer, os.path.join(out, "checkpoint.pt"))   # first: if it fails, nothing changed
    trainer.history.write_csv(os.path.join(out, "metrics.csv"))
    _write_config(trainer, out)
    if final:
        write_samples_png(trainer, os.path.join(out, "samples.png"))


def write_samples_png(trainer, path) -> None:
    dataset = trainer.dataset
    if dataset.is_image:
        grid_png(trainer.samples(), path, cols=trainer.grid_columns)   # conditional: a row per class
        return
    rng = np.random.default_rng(0)
    real = dataset.data.numpy()
    real = real[rng.choice(len(real), size=min(SCATTER_POINTS, len(real)), replace=False)]
    scatter_png(real, trainer.generate(SCATTER_POINTS), path, modes=dataset.modes)


def _write_config(trainer, out) -> None:
    with atomic_write(os.path.join(out, "config.json"), "w") as f:
        f.write(trainer.config.to_json() + "\n")


def _default_out(dataset: str) -> str:
    kind, sep, path = dataset.partition(":")
    name = f"{kind}-{os.path.splitext(os.path.basename(path.rstrip('/')))[0]}" if sep else dataset
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
    base = os.path.join("runs", f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    out, i = base, 1
    while os.path.exists(out):
        i += 1
        out = f"{base}-{i}"
    return out


def _make_folder(out) -> None:
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create output folder {out}: {e.strerror or e}") from None
    if not os.access(out, os.W_OK):
        raise UserError(f"output folder {out} is not writable")


class Progress:
    """One self-overwriting line on stderr, redrawn at most a few times a second."""

    def __init__(self, total: int, stream=None, interval: float = 0.25):
        self.total, self.stream, self.interval = total, stream or sys.stderr, interval
        self.last_draw, self.last_done, self.width, self.drawn = 0.0, None, 0, False

    def update(self, done, rate, rec_d, rec_g, probed=None, force=False):
        """rec_d, rec_g: the last D and G records; probed: the last G record whose probe was
        measured (config.probe_every), for D(x) and D(G(z))."""
        now = time.monotonic()
        if (not force and now - self.last_draw < self.interval) or done == self.last_done:
            return
        self.last_draw, self.last_done = now, done
        digits = len(str(self.total))
        parts = [f"{done:>{digits}}/{self.total} {100 * done / max(self.total, 1):3.0f}%",
                 f"{rate:7.1f} it/s"]
        if rec_d is not None and rec_g is not None:
            parts.append(f"loss_d {rec_d.loss_d:.3f} loss_g {rec_g.loss_g:.3f}")
        if probed is not None:
            parts.append(f"D(x) {probed.d_real_after:.3f} D(G(z)) {probed.d_fake_after:.3f}")
        if rate > 0 and done < self.total:
            parts.append(f"ETA {_clock((self.total - done) / rate)}")
        line = " | ".join(parts)
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width, self.drawn = len(line), True

    def close(self):
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


class StopOnCtrlC:
    """The first Ctrl+C asks the loop to stop after the current chunk (it then saves); the
    second raises KeyboardInterrupt as usual. Only the main thread can own signals."""

    def __init__(self, say: bool = True):
        self.requested = False
        self._previous = None
        self.say = say   # False: another process (rank 0 under torchrun) says it

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if self.say:
            print("\nganviz: stopping; saving the checkpoint (Ctrl+C again to quit at once)",
                  file=sys.stderr)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
