"""`python -m ganviz`: the same as the `ganviz` command."""
import sys

from ganviz.cli import main

sys.exit(main())
