"""The command line run in the test's own process: no second `import torch` (about 2 s a
command). test_cli runs the `python -m ganviz` door itself in fresh processes."""
import io
import os
import subprocess
from contextlib import redirect_stderr, redirect_stdout

from ganviz import cli


def ganviz(*argv, cwd):
    """`ganviz ...` run here, in `cwd`, as cli.main runs it for a user (test_cli runs the
    `python -m ganviz` door itself): its exit code, standard output and standard error."""
    out, err, before = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = cli.main([str(a) for a in argv])
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())
