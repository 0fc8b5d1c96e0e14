"""`ganviz serve` (and `ganviz train --serve`): train here, watch and steer from a window
elsewhere (`ganviz --connect HOST:PORT`). The training service (service/training.py) runs in
this process, its run store in the run folder as `ganviz train` writes it; windows attach
through service/serve.py. Ctrl+C ends it, with checkpoint.pt written into the run's folder."""
from __future__ import annotations

import os
import signal
import sys

from .cli import UserError
from .cli_train import CONFIG_OPTIONS, _join, _make_folder, _resume, _start, _write_config
from .core.checkpoint import save_checkpoint
from .core.config import ConfigError
from .core.distributed import Lockstep, follow


def serve_command(args, presets: dict) -> int:
    from .service.serve import is_loopback

    if not is_loopback(args.host) and not args.allow_remote:
        raise UserError(f"--host {args.host} would listen beyond this machine, unencrypted; the safe way is "
                        "an SSH tunnel (ssh -L 8765:127.0.0.1:8765 SERVER) to a server on 127.0.0.1. "
                        "To listen there anyway, add --allow-remote")
    if getattr(args, "threads", None):
        import torch
        torch.set_num_threads(args.threads)
    ranks = _join(args) if getattr(args, "distributed", False) else None
    try:
        changes = dict(presets[args.preset].changes) if getattr(args, "preset", None) else {}
        changes.update({k: getattr(args, k) for k in CONFIG_OPTIONS if getattr(args, k) is not None})
        trainer, out = _resume(args, changes) if args.resume else _start(args, changes)
        if ranks is None:
            return _serve(args, trainer, out)
        try:
            trainer.distribute(ranks)
        except ConfigError as e:
            raise UserError(str(e)) from None
        if not ranks.writer:   # rank 0 serves; the others make the calls it tells them
            signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl+C: rank 0 ends them all
            follow(trainer, ranks)
            _leave(0)
        code = _serve(args, Lockstep(trainer, ranks), out, one_run=f"torchrun trains it in {ranks.world} processes")
        ranks.end_together()   # the other processes end too (after an error, torchrun ends them)
        _leave(code)
    finally:
        if ranks is not None:
            ranks.close()


def _serve(args, trainer, out, one_run: str = "") -> int:
    from .protocol.transports import QueueChannel
    from .service.serve import Hub, Server, is_loopback, new_token, write_token
    from .service.training import TrainingService

    try:
        hub = Hub()
        server = Server(hub, new_token(), args.host, args.port)
    except OSError as e:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    if not args.resume:
        _make_folder(out)
        _write_config(trainer, out)
    host, port = server.address
    path = write_token(server.token, port)
    if not is_loopback(args.host):
        print(f"ganviz serve: WARNING: listening on {host}:{port}, beyond this machine, unencrypted: "
              "anyone who can reach it and has the token controls training", file=sys.stderr)
    print(f"ganviz serve: listening on {host}:{port}; the run is in {out}\n"
          f"token: {server.token}  (also in {path}, readable by you alone)\n"
          f"a window on this machine: ganviz --connect {host}:{port}\n"
          f"from another machine: ssh -L {port}:127.0.0.1:{port} THIS_MACHINE, then there "
          f"GANVIZ_TOKEN=<token> ganviz --connect 127.0.0.1:{port}", flush=True)

    service = TrainingService(QueueChannel(hub.inbox, hub))
    service.one_run = one_run
    service.runs_root = os.path.dirname(os.path.abspath(out))   # a window's Reset: a new run beside it
    service.start(trainer, folder=out)
    if args.steps is not None:   # `train --serve`: its --steps, then the run ends as a CLI run does
        service.stop_at = trainer.iteration + args.steps
    if not args.paused:
        service.set_running(True)

    def stop(*_):   # between two updates, never inside one (under torchrun the others are in it too)
        if not service.stopped:
            print("\nganviz serve: stopping", file=sys.stderr)
        service.stopped = True
    previous = signal.signal(signal.SIGINT, stop)
    try:
        service.run()
    finally:
        signal.signal(signal.SIGINT, previous)
        server.close()
    _finish(service)   # not after an error: its state may be half an update
    return 0


def _leave(code: int):
    """End a torchrun process once every rank has reached the end together: without tearing
    down the process group, whose gloo threads sometimes abort a process that is done
    ("terminate called without an active exception", 1 run in 3 here even after a barrier).
    Everything it writes is written by now."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _finish(service):
    """checkpoint.pt of the run the service ended with, in its folder (--resume reads it)."""
    trainer, store = service.trainer, service.store
    folder = store.folder if store is not None else None
    service.close_store()
    if trainer is None or folder is None:
        return
    path = os.path.join(folder, "checkpoint.pt")
    save_checkpoint(trainer, path)
    print(f"ganviz serve: iteration {trainer.iteration}; checkpoint saved to {path} "
          f"(continue it: ganviz serve --resume {folder})", file=sys.stderr)
