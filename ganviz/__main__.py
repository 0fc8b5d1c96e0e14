"""`python -m ganviz`: the same as the `ganviz` command."""
import sys

from ganviz.cli import main

if __name__ == "__main__":   # the training process re-imports this module; it must not start the app
    sys.exit(main())
