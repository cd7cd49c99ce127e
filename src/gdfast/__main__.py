"""``python -m gdfast``: the command line of gdfast.cli (the same as the ``gdfast`` console
script)."""
import sys

from gdfast.cli import main

if __name__ == "__main__":
    sys.exit(main())
