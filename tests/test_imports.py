"""The house's two rooms and its door: the core, the door's messages, the training service and
the session never load Qt, and the window reaches training only through the door (worker and transport).
Each check imports in a fresh interpreter, so nothing this test process loaded counts."""
import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import ganviz

PACKAGE = Path(ganviz.__file__).parent
QT = ("PySide6", "shiboken6", "pyqtgraph")
# what only the training side may load: the window sees the trainer through messages alone
TRAINING_SIDE = ("ganviz.service", "ganviz.core.trainer", "ganviz.core.checkpoint", "ganviz.core.recovery",
                 "ganviz.core.stages")
DOOR_CLIENTS = {"worker.py", "app.py"}   # app.py starts the training process first thing


def modules_of(*packages):
    return [f"ganviz.{p}.{info.name}" for p in packages for info in pkgutil.iter_modules([str(PACKAGE / p)])]


def loaded_after_importing(modules):
    """The top-level names in sys.modules after importing `modules` in a new interpreter."""
    code = ("import importlib, json, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=PACKAGE.parent, env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_core_protocol_and_service_load_no_qt():
    modules = ["ganviz.core", "ganviz.protocol", "ganviz.service"] + modules_of("core", "protocol", "service")
    assert "ganviz.service.training" in modules and "ganviz.core.trainer" in modules
    loaded = loaded_after_importing(modules)
    assert [name for name in loaded if name.split(".")[0] in QT] == []


def test_the_session_loads_no_qt():
    """The client's view of a run (session/) is plain Python: a test or a script reads it
    without a window."""
    modules = ["ganviz.session"] + modules_of("session")
    assert "ganviz.session.run_session" in modules
    loaded = loaded_after_importing(modules)
    assert "ganviz.session.run_session" in loaded
    assert [name for name in loaded if name.split(".")[0] in QT] == []
    assert [name for name in loaded if name.startswith(TRAINING_SIDE)] == []


def test_the_door_loads_neither_torch_nor_qt():
    loaded = loaded_after_importing(["ganviz.protocol.messages", "ganviz.protocol.transports"])
    assert [name for name in loaded if name.split(".")[0] in QT + ("torch",)] == []


def test_the_window_loads_nothing_of_the_training_side():
    loaded = loaded_after_importing(modules_of("gui"))
    assert "ganviz.gui.main_window" in loaded and "ganviz.protocol.transports" in loaded
    assert [name for name in loaded if name.startswith(TRAINING_SIDE)] == []


def imports_in(path: Path):
    """Every module a file imports, at any depth (function bodies too)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else f"ganviz.gui.{node.module}"
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def test_only_the_worker_opens_the_door():
    """The window talks to training through the worker; only it (and app.py, which starts the
    process early) touches a transport, and no gui file names the training side at all."""
    for path in sorted((PACKAGE / "gui").glob("*.py")):
        names = set(imports_in(path))
        assert not [n for n in names if n.startswith(TRAINING_SIDE)], path.name
        if path.name not in DOOR_CLIENTS:
            assert not [n for n in names if n.startswith(("ganviz.protocol.transports",
                                                          "ganviz.protocol.remote.SocketTransport"))], path.name
