"""The `ganviz` command: the window by default, or headless train / sample / eval.

Qt is imported only by the gui and screenshot commands, so the headless commands run on a
machine without a screen or without PySide6 at all. A mistake a person can fix (a bad
option, a missing file, a corrupt checkpoint) ends with one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from . import __version__
from .core.config import SETTINGS

DATA_HELP = ("a built-in dataset (ring, grid, spiral, moons, circle, digits) or your own data as "
             "KIND:PATH with KIND csv (x,y columns), npy (points or images), idx (MNIST format) "
             "or folder (PNG/JPEG images)")
# Config fields that `ganviz train` has an option for, named as the field (args.lr_d); None
# means "not given". From the settings' declarations in core/config.py.
SETTING_OPTIONS = tuple(name for name, s in SETTINGS.items() if s.cli)
EXIT_USAGE = 2
EXIT_NONFINITE = 3   # `train` stopped because a loss became NaN or infinite
EXIT_INTERRUPTED = 130


CONNECT_HELP = ("attach the window to `ganviz serve` at HOST:PORT (127.0.0.1:8765, or the near end "
                "of an SSH tunnel) instead of training here")
TOKEN_HELP = "the token `ganviz serve` printed (default $GANVIZ_TOKEN, else the server's token file on this machine)"


class UserError(Exception):
    """A problem the person running ganviz can fix; printed as one line."""


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or argparse's own usage error (code 2)
        return e.code if isinstance(e.code, int) else 0
    if args.command is None:
        args.command, args.dataset, args.checkpoint = "gui", None, None
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("\nganviz: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    # DataError, CheckpointError and ConfigError are ValueErrors whose messages are written
    # for people; so are resolve_device's. GANVIZ_DEBUG=1 shows the traceback instead.
    except (UserError, ValueError, OSError) as e:
        if os.environ.get("GANVIZ_DEBUG"):
            raise
        print(f"ganviz: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganviz", description="Watch a GAN train: live scores, losses and samples. "
        "Without a command, opens the window.")
    parser.add_argument("--version", action="version", version=f"ganviz {__version__}")
    parser.add_argument("--connect", metavar="HOST:PORT", help=CONNECT_HELP)
    parser.add_argument("--token", metavar="TOKEN", help=TOKEN_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = sub.add_parser("gui", help="open the window (the default)",
                         description="Open the window, optionally with data or a saved run.")
    gui.add_argument("--dataset", metavar="DATA", help=DATA_HELP)
    gui.add_argument("--checkpoint", metavar="PATH", help="open a saved run (checkpoint.pt)")
    gui.add_argument("--run", metavar="DIR", help="show a run folder (from `ganviz train`) read-only, with "
                     "its timeline; one still being written is followed live")
    gui.add_argument("--runs", metavar="DIR", help="where every run is kept for its timeline "
                     "(default $GANVIZ_RUNS, else runs/ here, as `ganviz train` does)")
    gui.add_argument("--connect", metavar="HOST:PORT", help=CONNECT_HELP)
    gui.add_argument("--token", metavar="TOKEN", help=TOKEN_HELP)

    train = sub.add_parser(
        "train", help="train without a window; write metrics, checkpoint and samples",
        description="Train without a window. Writes DIR/config.json, DIR/metrics.csv (one row "
        "per update), DIR/checkpoint.pt (at the end and every --checkpoint-every iterations), "
        "DIR/samples.png and the run store (DIR/run.db, DIR/snapshots/) that `ganviz replay` "
        "and the window's timeline read. An iteration is d-steps discriminator updates and one generator "
        "update. Ctrl+C saves the checkpoint and exits with code 130.")
    train.add_argument("--dataset", metavar="DATA", help=DATA_HELP)
    train.add_argument("--steps", type=_count, default=5000, metavar="N",
                       help="iterations to train (default 5000); with --resume, additional "
                       "iterations on top of the saved run")
    presets = _presets()
    if presets:
        train.add_argument("--preset", choices=sorted(presets), metavar="NAME",
                           help="start from a named setting: " + "; ".join(   # argparse formats help with %
                               f"{k}: {getattr(v, 'description', '')}" for k, v in sorted(presets.items())).replace("%", "%%"))
    _add_setting_options(train)
    train.add_argument("--threads", type=int, metavar="N",
                       help="CPU threads for torch (default: torch's choice; 1 is often faster "
                       "for the small 2D networks, or on a shared machine)")
    train.add_argument("--out", metavar="DIR", help="output folder (default runs/DATA-TIMESTAMP)")
    train.add_argument("--from", dest="from_run", metavar="DIR",
                       help="branch the run in DIR: continue its snapshot at or before --at as a "
                       "new run in --out NEW, with the settings given here (another objective, "
                       "optimizer, learning rate, ...; not another dataset or network shape); "
                       "--steps iterations on top of the branch point")
    train.add_argument("--at", type=_count, metavar="UPDATE",
                       help="with --from: the update to branch at (default: the run's latest snapshot)")
    train.add_argument("--resume", metavar="DIR", help="continue the run's own latest state "
                       "(DIR/checkpoint.pt), writing back to DIR (the special case of --from that "
                       "keeps the folder); settings given here must be ones that can change live "
                       f"({', '.join(SETTINGS[n].option for n in SETTING_OPTIONS if SETTINGS[n].live)})")
    train.add_argument("--checkpoint-every", type=_count, default=1000, metavar="N",
                       help="also save the checkpoint and metrics every N iterations (default 1000; 0: only at the end)")
    train.add_argument("--distributed", action="store_true",
                       help="under torchrun (torchrun --nproc_per_node N -m ganviz train --distributed ...): "
                       "train data-parallel, each process on its share of every batch (--batch-size is "
                       "the total), gradients averaged over the processes; NCCL on GPUs, gloo on CPUs; "
                       "process 0 alone writes the run folder")
    train.add_argument("--budget-mb", type=_megabytes, default=500, metavar="MB",
                       help="disk space for the run's frames and snapshots in DIR (default 500); "
                       "past it, old moments thin out, the first and the latest always kept")
    train.add_argument("--serve", action="store_true", help="train as `ganviz serve` does, for --steps "
                       "iterations: windows attach with ganviz --connect (the run folder gets the run "
                       "store and checkpoint.pt at the end); with --distributed, process 0 serves")
    _add_serve_options(train)

    serve = sub.add_parser(
        "serve", help="train here and let windows attach (ganviz --connect HOST:PORT)",
        description="Train without a window and serve the run to windows: `ganviz --connect "
        "HOST:PORT` attaches one (with the token printed here), which then trains, pauses, steps "
        "and changes settings as locally; Detach leaves training running. Listens on 127.0.0.1 "
        "only: from another machine, open an SSH tunnel (ssh -L 8765:127.0.0.1:8765 THIS_MACHINE). "
        "Ctrl+C stops, with DIR/checkpoint.pt written.")
    serve.add_argument("--dataset", metavar="DATA", help=DATA_HELP)
    if presets:
        serve.add_argument("--preset", choices=sorted(presets), metavar="NAME", help="start from a named setting")
    _add_setting_options(serve)
    serve.add_argument("--out", metavar="DIR", help="the run folder (default runs/DATA-TIMESTAMP)")
    serve.add_argument("--resume", metavar="DIR", help="continue the run in DIR (its checkpoint.pt), writing back to DIR")
    serve.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch")
    serve.set_defaults(steps=None)
    _add_serve_options(serve)

    sample = sub.add_parser("sample", help="write generated samples to a .npy file",
                            description="Write N generated samples as float32 .npy: N x 2 for "
                            "points, N x C x H x W in [-1, 1] for images.")
    sample.add_argument("--checkpoint", required=True, metavar="PATH")
    sample.add_argument("--n", type=_count, default=1000, metavar="N", help="how many (default 1000)")
    sample.add_argument("--out", required=True, metavar="FILE.npy")
    sample.add_argument("--device", metavar="DEVICE", help="auto (default), cpu, cuda or mps")
    sample.add_argument("--label", metavar="K", help="conditional runs: every sample of class K (its "
                        "name, e.g. 7 for the digits or 'mode 3' for the ring; default: every class "
                        "equally often)")

    ev = sub.add_parser("eval", help="print quality scores of a saved run",
                        description="Mode coverage for ring and grid (2500 samples), class "
                        "coverage for digits (1000 samples); other data has no score.")
    ev.add_argument("--checkpoint", required=True, metavar="PATH")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--device", metavar="DEVICE", help="auto (default), cpu, cuda or mps")

    replay = sub.add_parser("replay", help="write a run's stored frames as an animated GIF or PNG frames",
                            description="Draw the frames a run stored (ganviz train writes them, "
                            "every half second of training) as an animated GIF or as PNG pictures, "
                            "each captioned with its iteration: the sample grid for images; D's "
                            "heatmap, the real data and G's samples for 2D points.")
    replay.add_argument("run", metavar="RUN_DIR", help="a run folder (ganviz train --out DIR)")
    replay.add_argument("--out", metavar="FILE.gif", help="an animated GIF; a folder (ending in /) "
                        "gets PNG frames instead")
    replay.add_argument("--png", metavar="DIR", help="write PNG frames frame-00000.png, ... into DIR")
    replay.add_argument("--fps", type=float, default=10.0, metavar="N", help="GIF frames per second (default 10)")
    replay.add_argument("--every", type=_positive, default=1, metavar="N",
                        help="only every Nth stored frame (default 1: all)")

    shot = sub.add_parser("screenshot", help="train briefly in the window offscreen and save a PNG")
    shot.add_argument("--dataset", metavar="DATA", default="ring", help=DATA_HELP + " (default ring)")
    shot.add_argument("--steps", type=_count, default=300, metavar="N", help="iterations first (default 300)")
    shot.add_argument("--out", required=True, metavar="PATH.png")
    shot.add_argument("--size", type=_size, default="1400x900", metavar="WxH",
                      help="window size in pixels (default 1400x900)")
    return parser


# ---------------------------------------------------------------------------- commands
def _gui(args) -> int:
    try:
        from .gui.app import run_app
    except ImportError as e:
        raise UserError(f"cannot open the window ({e}); the headless commands "
                        "train, sample and eval still work") from None
    return run_app(args)


def _screenshot(args) -> int:
    from .gui.screenshot import main as shot
    return shot(args)


def _train(args) -> int:
    from .cli_train import train_command
    from .core.inputs import reporting
    if args.serve:
        if args.from_run or args.at is not None:
            raise UserError("--serve trains a new run or continues one with --resume; branch with --from first")
        return _serve(args)
    with reporting(StderrReporter()):  # progress of big files, skipped images, device notes
        return train_command(args, _presets())


def _serve(args) -> int:
    from .cli_serve import serve_command
    from .core.inputs import reporting
    with reporting(StderrReporter()):
        return serve_command(args, _presets())


def _replay(args) -> int:
    if not args.out and not args.png:
        raise UserError("replay needs --out FILE.gif (or --out DIR/, or --png DIR)")
    if args.out and args.png:
        raise UserError("give --out or --png, not both")
    from .cli_replay import replay_command
    return replay_command(args)


def _sample(args) -> int:
    from .core.atomic import atomic_write, check_folder
    from .core.inputs import reporting
    from .core.saved_generator import open_generator

    check_folder(args.out)   # before the checkpoint loads and the samples are made
    with reporting(StderrReporter()):
        generator = open_generator(args.checkpoint, device=args.device)  # G alone: no data
    label = None if args.label is None else _class_index(generator, args.label)
    samples = generator.generate(args.n, label=label).astype(np.float32)
    with atomic_write(args.out, "wb") as f:   # a full disk: WriteError naming the file
        np.save(f, samples)
    of = "" if label is None else f" of class {generator.classes[label]}"
    print(f"wrote {len(samples)} samples{of} of shape {samples.shape[1:]} to {args.out}")
    return 0


def _class_index(generator, name: str) -> int:
    """The index of class `name` (its name, or its number) of a conditional run's generator."""
    classes = generator.classes
    if classes is None:
        raise UserError(f"--label {name}: this run is not conditional (its conditioning is "
                        f"'{generator.config.conditional}'); leave --label out")
    if name in classes:
        return classes.index(name)
    if name.isdigit() and int(name) < len(classes):
        return int(name)
    shown = ", ".join(classes[:12]) + (", ..." if len(classes) > 12 else "")
    raise UserError(f"--label {name}: no such class; this run's classes are {shown}")


def _eval(args) -> int:
    from .core.evaluate import evaluate, format_metrics
    from .core.inputs import reporting
    from .core.saved_generator import open_generator

    with reporting(StderrReporter()):
        generator = open_generator(args.checkpoint, device=args.device)
    metrics = evaluate(generator)
    if args.json:
        out = {"dataset": generator.config.dataset, "iteration": generator.iteration, **metrics}
        print(json.dumps(out, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
    else:
        line = format_metrics(metrics) or (f"no quality score for {generator.config.dataset} "
                                           "(ganviz scores ring, grid and digits)")
        print(f"iteration {generator.iteration}: {line}")
    return 0


class StderrReporter:
    """Where the core's notes (skipped images, a changed device) and the progress of reading
    a big file go on the command line: stderr, one line each; progress only for files over
    PROGRESS_BYTES, at most twice a second, on one line rewritten in place."""
    PROGRESS_BYTES = 20_000_000

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.shown = 0.0
        self.open_line = False

    def progress(self, done: int, total: int, name: str) -> None:
        import time
        if total < self.PROGRESS_BYTES:
            return
        now = time.monotonic()
        if done < total and now - self.shown < 0.5:
            return
        self.shown = now
        end = "\n" if done >= total else ""
        print(f"\rreading {os.path.basename(name)}: {100 * done / total:3.0f} % "
              f"({done / 1e6:.0f} of {total / 1e6:.0f} MB)", end=end, file=self.stream, flush=True)
        self.open_line = done < total

    def note(self, text: str) -> None:
        if self.open_line:
            print(file=self.stream)
            self.open_line = False
        print(f"ganviz: {text}", file=self.stream, flush=True)


COMMANDS = {"gui": _gui, "train": _train, "serve": _serve, "sample": _sample, "eval": _eval,
            "screenshot": _screenshot, "replay": _replay}


# ---------------------------------------------------------------------------- helpers
def _presets() -> dict:
    """ganviz.core.presets.PRESETS (name -> Preset) where that module exists."""
    try:
        from .core.presets import PRESETS
    except ImportError:
        return {}
    return dict(PRESETS)


def _add_serve_options(parser) -> None:
    parser.add_argument("--host", default="127.0.0.1", metavar="HOST",
                        help="the address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=_port, default=8765, metavar="PORT", help="default 8765; 0: any free port")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a --host beyond this machine (unencrypted; an SSH tunnel is safer)")
    parser.add_argument("--paused", action="store_true", help="wait for a window to press Train (default: train at once)")


def _port(text: str) -> int:
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (0 to 65535)")
    return value


def _add_setting_options(parser) -> None:
    """One option per declared setting: its type, choices and help come from its declaration;
    the default stays None so a preset or a resumed run's value is only overridden when given."""
    for name in SETTING_OPTIONS:
        s = SETTINGS[name]
        if isinstance(s.default, bool):
            kind = {"action": argparse.BooleanOptionalAction}
        elif s.choices is not None:
            kind = {"choices": s.choices}
        else:
            kind = {"type": type(s.default), "metavar": s.metavar}
        help_text = s.cli_help().replace("%", "%%")   # argparse formats help with %
        parser.add_argument(s.option, dest=name, default=None, help=help_text, **kind)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _positive(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def _megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of megabytes") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} MB: the budget must be a positive number")
    return value


def _size(text: str) -> str:
    """Checked here, handed on as the string "WxH" (e.g. "1400x900")."""
    w, sep, h = text.lower().partition("x")
    if not (sep and w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1400x900")
    return f"{int(w)}x{int(h)}"


def _one_line(e: BaseException) -> str:
    from .core.atomic import WriteError

    if isinstance(e, WriteError):   # "Cannot write PATH: cause", after "ganviz: error: "
        text = str(e)[:1].lower() + str(e)[1:]
    elif isinstance(e, OSError) and e.strerror:
        text = f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    else:
        text = str(e) or type(e).__name__
    return " ".join(text.split())
