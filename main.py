"""`python3 main.py` opens the window; `python3 main.py test` runs the test suite.

Any other arguments go to the `ganviz` command (`python3 main.py train --dataset ring`).
On a fresh machine, the first call creates .venv/ beside this file and installs ganviz and
its dependencies into it (torch pinned to 2.13.0, the CPU wheel), then runs there; later
calls reuse it. Inside an environment that already has ganviz's dependencies, it just runs.
"""
import os
import shutil
import subprocess
import sys
import tempfile

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


def run_tests(args) -> int:
    """The whole suite as two pytest processes side by side, each half of the tests (conftest.py:
    GANVIZ_TEST_SHARD, balanced by the tests marked slow) in temporary folders of its own, where
    there are two cores or more: most tests keep one core busy, so the halves take well under
    the time of one run.
    With arguments (a file, -k ...), or on one core: one pytest, as asked."""
    shards = min(2, os.cpu_count() or 1)
    if args or shards < 2:
        import pytest
        return pytest.main(["-q"] + args)
    runs = []
    for k in range(shards):   # the first half prints as it goes, the others when it is done
        log = None if k == 0 else tempfile.TemporaryFile("w+")
        base = tempfile.mkdtemp(prefix=f"ganviz-tests-{k}-")
        env = {**os.environ, "GANVIZ_TEST_SHARD": f"{k}/{shards}"}
        runs.append((subprocess.Popen([sys.executable, "-m", "pytest", "-q", f"--basetemp={base}"],
                                      env=env, stdout=log, stderr=None if log is None else subprocess.STDOUT), log, base))
    codes = []
    for k, (process, log, base) in enumerate(runs):
        codes.append(process.wait())
        if log is not None:
            log.seek(0)
            print(f"---- the other half of the tests ({k + 1} of {shards}) " + "-" * 30, flush=True)
            sys.stdout.write(log.read())
        shutil.rmtree(base, ignore_errors=True)
    return next((c for c in codes if c != 0), 0)


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
        sys.exit(run_tests(args[1:]))
    sys.path.insert(0, ROOT)
    from ganviz.cli import main as ganviz_main
    sys.exit(ganviz_main(args))


if __name__ == "__main__":
    main()
