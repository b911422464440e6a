"""The explorer of each notebook: its controls and what it computes for them.

One module per notebook (01 :mod:`.separable`, 02 :mod:`.depthwise_pointwise`,
03 :mod:`.one_by_one`, 04 :mod:`.residual`, 05 :mod:`.program`). Each explorer is a
function that returns an :class:`helpers.widgets.Explorer`; the notebook calls
``.show()`` for the static default view and ``.widget()`` for the live one. The
compute functions are plain functions of the control values, so the tests can call
them directly.
"""

from ._common import _image
from .depthwise_pointwise import depthwise_pointwise, depthwise_pointwise_view, layer_weights
from .one_by_one import (
    bottleneck,
    bottleneck_view,
    one_by_one,
    one_by_one_view,
    one_by_one_weights,
    two_one_by_ones,
    two_one_by_ones_view,
)
from .program import command_line, program, program_view
from .residual import residual, residual_view
from .separable import separable, separable_view, sliding_window

__all__ = [
    # the explorers, one per notebook
    "sliding_window",
    "separable",
    "depthwise_pointwise",
    "program",
    "one_by_one",
    "bottleneck",
    "two_one_by_ones",
    "residual",
    # their compute functions (plain functions of the control values, for tests)
    "separable_view",
    "depthwise_pointwise_view",
    "layer_weights",
    "program_view",
    "command_line",
    "one_by_one_view",
    "one_by_one_weights",
    "bottleneck_view",
    "two_one_by_ones_view",
    "residual_view",
    "_image",
]
