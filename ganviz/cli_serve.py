"""`ganviz serve` (and `ganviz train --serve`): train here, watch and steer from a window
elsewhere (`ganviz --connect HOST:PORT`). The training service (service/training.py) runs in
this process, its run store in the run folder as `ganviz train` writes it; windows attach
through service/serve.py. Ctrl+C ends it, with checkpoint.pt written into the run's folder."""
from __future__ import annotations

import os
import sys

from .cli import UserError
from .cli_train import CONFIG_OPTIONS, _make_folder, _resume, _start, _write_config
from .core.checkpoint import save_checkpoint


def serve_command(args, presets: dict) -> int:
    from .protocol.transports import QueueChannel
    from .service.serve import Hub, Server, is_loopback, new_token, write_token
    from .service.training import TrainingService

    if not is_loopback(args.host) and not args.allow_remote:
        raise UserError(f"--host {args.host} would listen beyond this machine, unencrypted; the safe way is "
                        "an SSH tunnel (ssh -L 8765:127.0.0.1:8765 SERVER) to a server on 127.0.0.1. "
                        "To listen there anyway, add --allow-remote")
    if getattr(args, "threads", None):
        import torch
        torch.set_num_threads(args.threads)
    changes = dict(presets[args.preset].changes) if getattr(args, "preset", None) else {}
    changes.update({k: getattr(args, k) for k in CONFIG_OPTIONS if getattr(args, k) is not None})
    trainer, out = _resume(args, changes) if args.resume else _start(args, changes)
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
    service.runs_root = os.path.dirname(os.path.abspath(out))   # a window's Reset: a new run beside it
    service.start(trainer, folder=out)
    if args.steps is not None:   # `train --serve`: its --steps, then the run ends as a CLI run does
        service.stop_at = trainer.iteration + args.steps
    if not args.paused:
        service.set_running(True)
    try:
        service.run()
    except KeyboardInterrupt:
        print("\nganviz serve: stopping", file=sys.stderr)
    finally:
        server.close()
        _finish(service)
    return 0


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
