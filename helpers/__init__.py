"""Efficient Convolutions, Explained: the shared code of the notebook series.

Modules, one concern each:

- :mod:`helpers.conv` -- the convolution ops: textbook loops, then the fast versions
- :mod:`helpers.fast_conv` -- the blocked NumPy engine behind the fast ops
- :mod:`helpers.explorers` -- each notebook's explorer (controls and what they compute)
- :mod:`helpers.kernels` -- named kernels, pointwise presets, separability (SVD)
- :mod:`helpers.costs` -- MACs and parameters of each layer kind
- :mod:`helpers.images` -- loading, saving and the sample images
- :mod:`helpers.plotting` -- per-channel figures
- :mod:`helpers.cli` -- ``python convolution_program.py``

Conventions: channels-last ``(H, W, C)`` images, cross-correlation (no kernel flip),
TensorFlow padding rules, MACs and parameters for costs (FLOPs = 2 x MACs).
"""

__version__ = "0.1.0"
