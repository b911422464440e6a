"""Efficient Convolutions, Explained: the shared code of the notebook series.

Modules, one concern each:

- :mod:`helpers.conv` -- the convolution ops: textbook loops, then the fast versions
- :mod:`helpers.fast_conv` -- the blocked NumPy engine behind the fast ops
- :mod:`helpers.explorers` -- each notebook's explorer (controls and what they compute)
- :mod:`helpers.kernels` -- named kernels, pointwise presets, separability (SVD)
- :mod:`helpers.costs` -- MACs and parameters of each layer kind
- :mod:`helpers.images` -- loading, saving and the sample images
- :mod:`helpers.plotting` -- per-channel figures, each with a text alternative
- :mod:`helpers.diagrams` -- schematics drawn by code (connectivity, 1x1 mixing, residual blocks)
- :mod:`helpers.widgets` -- the explorer machinery (core ipywidgets, one reused figure)
- :mod:`helpers.nn` -- a small NumPy network engine (forward/backward side by side, batch norm)
- :mod:`helpers.architectures` -- ResNet-18/34/50 and GoogLeNet layer tables, costed layer by layer
- :mod:`helpers.checks` -- self-checks for the exercises
- :mod:`helpers.timing` -- alternating, primed timings
- :mod:`helpers.cli` -- ``python convolution_program.py``
- :mod:`helpers.repo` -- where the series lives (the notebooks' setup cell comes from here)

Conventions: channels-last ``(H, W, C)`` images, cross-correlation (no kernel flip),
TensorFlow padding rules, MACs and parameters for costs (FLOPs = 2 x MACs).
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

# NumPy's OpenBLAS starts one busy-waiting thread per core. On a 2-core Colab/Binder
# machine that is also running something else, those threads wait for each other and
# a matrix product can take ten times longer than with one thread; the arrays here are
# small enough that one thread loses little when the machine is idle. So: one BLAS
# thread, unless you chose otherwise (set OPENBLAS_NUM_THREADS before starting Python).
if "OPENBLAS_NUM_THREADS" not in _os.environ:
    _os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read when NumPy loads, and by programs started from here
    if "numpy" in _sys.modules:  # too late for the variable; limit the loaded library if threadpoolctl is there
        try:
            from threadpoolctl import threadpool_limits as _limits

            _limits(1, user_api="blas")
        except ImportError:
            pass
