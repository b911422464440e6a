"""Notebook 04: a plain and a residual network of the same depth, trained side by side."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from ..widgets import Explorer, LinePanel, View

LEARNING_RATES = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
SHORTCUTS = {"v1": "v1", "pre-activation": "preact"}
WIDTH, STEPS = 12, 100
DEPTHS = list(range(2, 25, 2))  # the depth slider's values


def _train_runs(depth: int, block: str, batchnorm: bool,
                before_step: Callable[[], None] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For seed 0, every learning rate of ``LEARNING_RATES`` at once: (losses (STEPS, len(LEARNING_RATES)),
    gradient RMS entering each block at initialisation (depth + 1,), forward RMS of the stream entering each
    block at initialisation (depth + 1,)).

    The six runs share their initial weights and are trained side by side as one ensemble
    (:func:`helpers.nn.make_network` with ``seeds=[0] * 6``): that costs about as much as two
    single runs, and afterwards every learning-rate change is a cache hit.
    """
    from .. import nn

    x, y = nn.spirals(30, 3, turns=1.5, seed=0)
    net = nn.make_network(depth, block=block, width=WIDTH, batchnorm=batchnorm)
    with np.errstate(all="ignore"):
        grads, rms = nn.stream_gradient_norms(net, x, y), nn.stream_rms(net, x)
    ensemble = nn.make_network(depth, block=block, width=WIDTH, batchnorm=batchnorm, seeds=[0] * len(LEARNING_RATES))
    losses = nn.train(ensemble, x, y, steps=STEPS, before_step=before_step,
                      optimizer=nn.SGD(lr=np.array(LEARNING_RATES, dtype=float), momentum=0.9))
    losses.flags.writeable = False
    return losses, grads, rms


class _Runs:
    """The trained runs of every (depth, block, batchnorm) asked for so far, and a background
    thread that trains the settings one control move away while the learner looks at the
    current one (a first visit to a setting costs 0.1-1 s of training; a cached one nothing).

    The background thread trains only while the kernel is idle: it holds between training
    steps while a cell runs (IPython's pre/post_run_cell events; so a notebook run top to
    bottom is not slowed) and while the explorer redraws, unless the redraw is waiting for
    the very setting it is training. Background and foreground compute the same numbers
    (same code, same seed).
    """

    def __init__(self) -> None:
        self._done: dict[tuple, tuple] = {}
        self._busy: dict[tuple, threading.Event] = {}  # key -> set when its training ends
        self._cond = threading.Condition()
        self._wanted: list[tuple] = []
        self._paused = False
        self._training: tuple | None = None  # what the background thread trains now
        self._needed: tuple | None = None  # what a redraw waits for
        self._thread: threading.Thread | None = None
        self._cell_running = False

    def get(self, key: tuple) -> tuple:
        """The runs of ``key`` = (depth, block, batchnorm): cached, or awaited, or trained here."""
        while True:
            with self._cond:
                if key in self._done:
                    return self._done[key]
                event = self._busy.get(key)
                if event is None:
                    event = self._busy[key] = threading.Event()
                    break
                self._needed = key  # the background thread has it: let it run on
                self._cond.notify_all()
            event.wait()
        try:
            result = _train_runs(*key)
            with self._cond:
                self._done[key] = result
            return result
        finally:
            with self._cond:
                self._busy.pop(key).set()

    def cached(self, key: tuple) -> bool:
        with self._cond:
            return key in self._done

    def pause(self) -> None:
        """A redraw starts: the background thread waits after its current training step."""
        with self._cond:
            self._paused = True

    def warm(self, keys: list[tuple]) -> None:
        """A redraw is done: train ``keys`` (the nearest first) in the background."""
        with self._cond:
            self._wanted = [k for k in keys if k not in self._done]
            self._paused, self._needed = False, None
            self._cond.notify_all()
            if self._thread is None:
                self._watch_cells()
                self._thread = threading.Thread(target=self._loop, name="residual-explorer-prefetch", daemon=True)
                self._thread.start()

    def _watch_cells(self) -> None:
        """Hold the background thread while a notebook cell runs (in IPython; called from a cell)."""
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
        if shell is None:
            return
        self._cell_running = True  # the cell that drew the explorer is still running
        shell.events.register("pre_run_cell", self._cell_starts)
        shell.events.register("post_run_cell", self._cell_ends)

    def _cell_starts(self, *_info: object) -> None:
        with self._cond:
            self._cell_running = True

    def _cell_ends(self, *_result: object) -> None:
        with self._cond:
            self._cell_running = False
            self._cond.notify_all()

    def _hold(self) -> bool:
        """Whether the background thread should wait (called with the lock held)."""
        return (self._paused or self._cell_running) and self._needed != self._training

    def _wait_while_paused(self) -> None:
        with self._cond:
            while self._hold():
                self._cond.wait(0.25)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._paused or self._cell_running or not self._wanted:
                    self._cond.wait()
                key = self._wanted.pop(0)
                if key in self._done or key in self._busy:
                    continue
                self._busy[key] = threading.Event()
                self._training = key
            try:
                result = _train_runs(*key, before_step=self._wait_while_paused)
                with self._cond:
                    self._done[key] = result
            except Exception:  # noqa: BLE001 -- a failed prefetch is retried in the foreground, which reports it
                pass
            finally:
                with self._cond:
                    self._training = None
                    self._busy.pop(key).set()


_RUNS = _Runs()


def _runs(depth: int, block: str, batchnorm: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The runs of :func:`_train_runs`, trained once per setting (see :class:`_Runs`)."""
    return _RUNS.get((depth, block, batchnorm))


def _training_cost(key: tuple) -> float:
    """Rough relative cost of training one setting (depth, block, batchnorm): per block, batch norm
    triples the work (measured: 16 blocks with it about 0.47 s, 24 without about 0.25 s)."""
    depth, _block, batchnorm = key
    return 2 + depth * (3 if batchnorm else 1)


def _prefetch(values: dict | None) -> None:
    """The explorer's prefetch hook: ``None`` when a redraw starts, the settled values when it is done.

    Warms the settings one move of one control away: depth up and down, batch norm
    toggled (each needs the plain and the residual network) and the other shortcut form
    (the plain one is shared); the learning rate needs nothing, all rates are trained at
    once. They come in the order of the controls above the plot (depth, the lesson's main
    control, first); within one control, the cheaper direction first.
    """
    if values is None:
        _RUNS.pause()
        return
    depth, bn, block = values["depth"], values["batchnorm"], SHORTCUTS[values["shortcut"]]
    depths = sorted((d for d in (depth - 2, depth + 2) if DEPTHS[0] <= d <= DEPTHS[-1]),
                    key=lambda d: _training_cost((d, block, bn)))
    moves = [[(d, "plain", bn), (d, block, bn)] for d in depths]
    moves.append([(depth, "plain", not bn), (depth, block, not bn)])
    moves += [[(depth, other, bn)] for other in SHORTCUTS.values() if other != block]
    _RUNS.warm([k for keys in moves for k in keys])


def _run(depth: int, block: str, learning_rate: float, batchnorm: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For seed 0 and one learning rate (one of ``LEARNING_RATES``): (losses (STEPS,), gradient RMS
    (depth + 1,), forward RMS (depth + 1,)), as in :func:`_runs`."""
    losses, grads, rms = _runs(depth, block, batchnorm)
    return losses[:, LEARNING_RATES.index(learning_rate)], grads, rms


def _times(ratio: float) -> str:
    """A ratio >= 1 to one significant digit, as a learner reads it: ``≈900×``, ``≈3,000×``, ``≈2×``."""
    return f"≈{float(f'{ratio:.1g}'):,.0f}×"


CHANCE = float(np.log(3))  # the loss of a uniform guess over 3 classes


def diagnose(losses: np.ndarray, grads: np.ndarray, rms: np.ndarray) -> tuple[str, str]:
    """(state, reason) of one run; state is "diverged", "exploding", "vanishing", "stuck" or "trained".

    losses: (steps,) training loss; grads, rms: (depth + 1,) gradient RMS and forward
    RMS of the stream from the first hidden layer (index 0) to the input of the output
    layer (last), at initialisation. "trained" means a final loss below half of chance
    (ln 3 = 1.1 for three classes).
    """
    start, final = losses[0], losses[-1]
    with np.errstate(all="ignore"):
        g_ratio, f_ratio = grads[0] / grads[-1], rms[-1] / rms[0]
    if not np.all(np.isfinite(losses)):
        return "diverged", f"loss became NaN at step {int(np.argmax(~np.isfinite(losses)))}: the step is too large"
    if f_ratio > 1e2:
        return "exploding", (f"the signal grows {f_ratio:.0e}x through the blocks (initial loss {start:.2g}); "
                             f"loss ends at {final:.2g}")
    if g_ratio < 1e-3:
        return "vanishing", f"first-layer gradient {g_ratio:.0e} of the last layer's: the first layers get no signal"
    if final > 0.5 * CHANCE:
        spike = float(np.nanmax(losses))
        why = (f"; the loss spiked to {spike:.2g}: the step is too large" if spike > 2 * max(start, CHANCE) else
               f"; the first layer's gradient is {_times(g_ratio)} the last layer's: it grows toward the "
               "input instead of vanishing"
               if g_ratio >= 1 else f"; first-layer gradient {g_ratio:.0e} of the last layer's")
        return "stuck", f"loss stayed at {final:.2g} (chance: {CHANCE:.2g}){why}"
    return "trained", f"loss {start:.2g} -> {final:.2g}"


def residual_view(depth: int, learning_rate: float, batchnorm: bool, shortcut: str) -> View:
    """Train a plain and a residual network (same layers, seed 0) and compare them."""
    block = SHORTCUTS[shortcut]
    plain_losses, plain_grads, plain_rms = _run(depth, "plain", learning_rate, batchnorm)
    res_losses, res_grads, res_rms = _run(depth, block, learning_rate, batchnorm)
    plain_state, plain_why = diagnose(plain_losses, plain_grads, plain_rms)
    res_state, res_why = diagnose(res_losses, res_grads, res_rms)
    if plain_state != "trained" and res_state == "trained":
        verdict = f"verdict: the residual net trains, the plain net of the same depth does not ({plain_state})"
    elif plain_state == "trained" and res_state == "trained":
        ratio = plain_losses[-1] / res_losses[-1]
        verdict = ("verdict: both train at this depth and step size"
                   + (f"; the residual net ends {ratio:.1f}x lower" if ratio > 2 else ""))
    elif res_state != "trained" and plain_state == "trained":
        verdict = f"verdict: the residual net fails here ({res_state}) while the plain one trains"
    else:
        verdict = f"verdict: neither trains (plain: {plain_state}, residual: {res_state})"
    bn = "with" if batchnorm else "without"
    text = (f"{depth} blocks of two {WIDTH}-unit layers (2·{depth} + 2 weight layers), ReLU, {bn} batch norm; "
            f"SGD with momentum 0.9, learning rate {learning_rate:g}, {STEPS} full-batch steps on 90 spiral points\n"
            f"plain          : {plain_why}\n"
            f"residual ({shortcut}): {res_why}\n{verdict}")
    steps = np.arange(len(plain_losses))
    blocks = np.arange(len(plain_grads))
    panels = [
        LinePanel("training loss (log scale)", {"plain": (steps, plain_losses), f"residual ({shortcut})":
                                                 (steps, res_losses)}, "SGD step", "cross-entropy", logy=True),
        LinePanel("gradient RMS entering each block, at initialisation",
                  {"plain": (blocks, plain_grads), f"residual ({shortcut})": (blocks, res_grads)},
                  "block (0 = first hidden layer)", "RMS of dL/dh", logy=True),
    ]
    return View(lines=panels, text=text, alt=(
        f"Two line plots for {depth} blocks, learning rate {learning_rate:g}, {bn} batch norm: the training loss "
        f"(log scale) of the plain and the residual ({shortcut}) network against the SGD step, and the RMS of the "
        "gradient entering each block at initialisation (log scale) for both."))


def residual() -> Explorer:
    """Notebook 04's explorer: depth, learning rate, batch norm on/off, and the residual block's form."""
    controls = {
        "depth": ("slider", DEPTHS[0], DEPTHS[-1], 2, 16),
        "learning_rate": ("dropdown", LEARNING_RATES, 0.1),
        "batchnorm": ("checkbox", True),
        "shortcut": ("toggle", list(SHORTCUTS), "v1"),
    }
    return Explorer(controls, residual_view, ncols=2, panel_size=4.0, prefetch=_prefetch,
                    states=[{"depth": 4}, {"learning_rate": 1.0}, {"batchnorm": False}, {"shortcut": "pre-activation"}])
