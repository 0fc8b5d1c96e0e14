"""`python3 main.py` opens the window; `python3 main.py test` runs the test suite.

Any other arguments go to the `ganviz` command (`python3 main.py train --dataset ring`).
On a fresh machine, the first call creates .venv/ beside this file and installs ganviz and
its dependencies into it (torch pinned to 2.13.0, the CPU wheel), then runs there; later
calls reuse it. Inside an environment that already has ganviz's dependencies, it just runs.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(ROOT, ".venv")
VENV_PYTHON = os.path.join(VENV, "Scripts" if os.name == "nt" else "bin", "python")
STAMP = os.path.join(VENV, ".ganviz-installed")


def dependencies_present() -> bool:
    try:
        import numpy, PySide6, pyqtgraph, pytest, pytestqt, sklearn, torch  # noqa: F401,E401
    except ImportError:
        return False
    return True


def bootstrap():
    """Create .venv and install ganviz into it, unless that was done for this pyproject."""
    pyproject = os.path.join(ROOT, "pyproject.toml")
    if os.path.exists(STAMP) and os.path.getmtime(STAMP) >= os.path.getmtime(pyproject):
        return
    if not os.path.exists(VENV_PYTHON):
        print("ganviz: first run: creating .venv and installing dependencies (a few minutes)…",
              file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    pip = [VENV_PYTHON, "-m", "pip", "install", "--disable-pip-version-check"]
    # torch first and pinned: 2.13.0's CPU wheel; an unpinned torch pulls GBs of CUDA packages.
    subprocess.check_call(pip + ["torch==2.13.0"])
    subprocess.check_call(pip + ["-e", ROOT + "[test]"])
    with open(STAMP, "w") as f:
        f.write("installed\n")


def opens_window(args) -> bool:
    return args[:1] in ([], ["gui"])


def check_system_libraries(args):
    """Before Qt starts (and before a first install takes minutes): on a Linux desktop, name
    the missing system packages Qt's X11 plugin needs instead of letting Qt abort."""
    if not opens_window(args):
        return
    sys.path.insert(0, ROOT)
    from ganviz.gui.system_libs import check_window_libraries   # standard library only
    message = check_window_libraries()
    if message:
        print(message, file=sys.stderr)
        sys.exit(2)


def main():
    args = sys.argv[1:]
    check_system_libraries(args)
    here = os.path.realpath(sys.prefix) == os.path.realpath(VENV)
    if not here and not dependencies_present():
        bootstrap()
        os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__)] + args)
    if here:
        bootstrap()   # pyproject.toml changed since the last install
    if args[:1] == ["test"]:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        os.chdir(ROOT)
        import pytest
        sys.exit(pytest.main(["-q"] + args[1:]))
    sys.path.insert(0, ROOT)
    from ganviz.cli import main as ganviz_main
    sys.exit(ganviz_main(args))


if __name__ == "__main__":
    main()
