#!/usr/bin/env python3
"""The homework's program: convolve an image with a kernel, chosen by a flag.

    python convolution_program.py --mode depthwise
    python convolution_program.py --mode pointwise
    python convolution_program.py --help

Everything lives in helpers/cli.py; this file only makes the command work from the
repository root without installing anything but NumPy and matplotlib.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
