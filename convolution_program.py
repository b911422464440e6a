#!/usr/bin/env python3
"""The homework's program: convolve an image with a kernel, chosen by a flag.

    python convolution_program.py --mode depthwise
    python convolution_program.py --mode pointwise
    python convolution_program.py --help

Everything lives in helpers/cli.py; this file only makes the command work from the
repository root without installing anything but NumPy, matplotlib and Pillow (which
comes with matplotlib), and says in one line what is missing when something is.
"""

import sys
from pathlib import Path

PROG = "convolution_program.py"

if sys.version_info < (3, 10):  # noqa: UP036 -- a learner may run an older python3
    sys.stderr.write(f"{PROG}: error: Python 3.10 or newer is needed, this is {sys.version.split()[0]}; "
                     "run it with python3.10 or newer\n")
    sys.exit(2)

sys.path.insert(0, str(Path(__file__).resolve().parent))

try:
    from helpers.cli import main
except ImportError as exc:  # NumPy (or a helper's dependency) missing: one line, not a traceback
    name = (exc.name or "").split(".")[0] or str(exc)
    package = {"PIL": "Pillow"}.get(name, name)
    sys.stderr.write(f"{PROG}: error: the Python package {package} is missing or broken ({exc}); install it with "
                     f"'python -m pip install {package}' (the program needs Python >= 3.10, NumPy, matplotlib "
                     "and Pillow)\n")
    sys.exit(2)

if __name__ == "__main__":
    sys.exit(main())
