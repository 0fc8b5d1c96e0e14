"""`python main.py`: the same as the `ganviz` command, from a source checkout."""
import sys

from ganviz.cli import main

if __name__ == "__main__":
    sys.exit(main())
