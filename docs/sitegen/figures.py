"""The site's figures, computed by the reference and drawn with matplotlib (SVG).

- ``bn-minibatch.svg``: three units' values over one mini-batch, before BN (Z)
  and after it (z_norm, then gamma * z_norm + beta);
- ``loss-curves.svg``: one network trained with and without BN, with gradient
  descent and Adam, at two learning rates (same data, same initial W);
- ``running-stats.svg``: the running mean and variance of a BN layer over the
  mini-batches of one epoch, against the statistics of the whole data set.

They are generated at build time (``hooks.py`` adds them to the built site)
and never committed; ``python docs/sitegen/figures.py --output DIR`` writes
them into a folder to look at.  Their captions are in the pages that embed
them (docs/lecture.md and its translation), which say what each shows.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: choose the file backend before pyplot is imported (hence E402)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bnspec.reference import batchnorm, network, optimizers, training  # noqa: E402

#: The loss figure's inputs: the data scaled by this and shifted by ``_OFFSET``, far from 0 and badly scaled.
_SCALE, _OFFSET = 4.0, (6.0, -3.0)

_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "bnspec", "font.size": 9, "axes.spines.top": False,
          "axes.spines.right": False}


def _svg(fig) -> bytes:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue().encode("utf-8")


def minibatch_figure() -> bytes:
    """Each unit's values over a mini-batch of m = 32, before and after BN."""
    rng = np.random.default_rng(0)
    m = 32
    Z = np.stack([rng.normal(5.0, 2.0, m), rng.normal(-3.0, 0.5, m), rng.exponential(4.0, m) - 1.0])
    gamma, beta = np.array([[1.5], [1.0], [0.5]]), np.array([[2.0], [0.0], [-1.0]])
    z_norm = batchnorm.forward(Z, np.ones((3, 1)), np.zeros((3, 1)))
    z_tilde = batchnorm.forward(Z, gamma, beta)
    panels = [("Z[l], before BN", Z), ("z_norm: mean 0, variance 1", z_norm),
              ("Z~[l] = gamma z_norm + beta", z_tilde)]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3), sharey=True, layout="constrained")
    for ax, (title, values) in zip(axes, panels, strict=True):
        for unit in range(3):
            jitter = unit + rng.uniform(-0.15, 0.15, m)
            ax.scatter(values[unit], jitter, s=10, alpha=0.7, label=f"unit {unit + 1}")
            ax.plot([values[unit].mean()] * 2, [unit - 0.3, unit + 0.3], color="black", lw=1.5)
        ax.set_yticks(range(3), [f"unit {u + 1}" for u in range(3)])
        ax.set_title(title)
        ax.set_xlabel("values of the m = 32 examples")
    fig.suptitle("One mini-batch, unit by unit (bars: the unit's mean); gamma = (1.5, 1, 0.5), beta = (2, 0, -1)",
                 fontsize=9)
    return _svg(fig)


def _loss_runs() -> dict[tuple[str, float, bool], list[float]]:
    rng = np.random.default_rng(1)
    X, Y = training.separable_data(rng, n_x=2, m=256)
    X = _SCALE * X + np.array(_OFFSET)[:, None]
    runs = {}
    for batch_norm in (True, False):
        spec = network.NetworkSpec(n_x=2, layers=(network.LayerSpec(16, "relu", batch_norm),
                                                  network.LayerSpec(16, "relu", batch_norm),
                                                  network.LayerSpec(1, "sigmoid")))
        for name, make in (("gradient descent", optimizers.GradientDescent), ("Adam", optimizers.Adam)):
            for lr in (0.01, 0.1):
                params = network.init_params(spec, np.random.default_rng(2))  # the same W with and without BN
                result = training.train(spec, params, X, Y, make(lr=lr), epochs=15, batch_size=32,
                                        rng=np.random.default_rng(3))
                runs[(name, lr, batch_norm)] = result.losses
    return runs


def loss_figure() -> bytes:
    """Mini-batch losses with and without BN: two optimizers x two learning rates."""
    runs = _loss_runs()
    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True, layout="constrained")
    for row, name in enumerate(("gradient descent", "Adam")):
        for col, lr in enumerate((0.01, 0.1)):
            ax = axes[row][col]
            for batch_norm, color in ((True, "tab:blue"), (False, "tab:orange")):
                losses = np.array(runs[(name, lr, batch_norm)])
                ax.plot(losses, color=color, lw=1, label="with BN" if batch_norm else "without BN (b[l] instead)")
            ax.set_yscale("log")
            ax.set_title(f"{name}, learning rate {lr}")
            ax.set_ylabel("loss of the mini-batch")
            if row == 1:
                ax.set_xlabel("step (mini-batch t; 8 per epoch)")
    axes[0][0].legend(frameon=False)
    fig.suptitle(f"One network (2-16-16-1, relu, sigmoid output), the same initial W, 15 epochs of 256 examples, "
                 f"inputs {_SCALE:g} x + ({_OFFSET[0]:g}, {_OFFSET[1]:g})", fontsize=9)
    return _svg(fig)


def running_figure() -> bytes:
    """Running mean and variance over the mini-batches of one epoch (momentum 0.9)."""
    rng = np.random.default_rng(4)
    X = rng.normal(0.0, 1.0, (4, 1024)) + np.array([[2.0], [-1.0], [0.0], [0.5]])
    W = rng.normal(0.0, 1.0, (3, 4))
    Z = W @ X  # the layer's Z = W A_prev over the whole data set
    population_mean, population_var = batchnorm.batch_statistics(Z)
    running_mean, running_var = np.zeros((3, 1)), np.ones((3, 1))
    means, variances = [running_mean], [running_var]
    for start in range(0, Z.shape[1], 32):  # 32 mini-batches of 32, in order
        running_mean, running_var = batchnorm.update_running(running_mean, running_var,
                                                             Z[:, start:start + 32], momentum=0.9)
        means.append(running_mean)
        variances.append(running_var)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
    for ax, history, target, title in ((axes[0], means, population_mean, "running mean"),
                                       (axes[1], variances, population_var, "running variance")):
        values = np.hstack(history)
        for unit in range(3):
            line, = ax.plot(values[unit], lw=1.2, label=f"unit {unit + 1}")
            ax.axhline(target[unit, 0], color=line.get_color(), ls="--", lw=0.8)
        ax.set_title(title)
        ax.set_xlabel("mini-batches seen (m = 32, momentum 0.9)")
    fig.suptitle("One epoch of 32 mini-batches; dashed: the statistics of the whole data set", fontsize=9)
    axes[0].legend(frameon=False)
    return _svg(fig)


FIGURES: dict[str, Callable[[], bytes]] = {
    "bn-minibatch.svg": minibatch_figure,
    "loss-curves.svg": loss_figure,
    "running-stats.svg": running_figure,
}


def render() -> dict[str, bytes]:
    """Every figure: file name -> SVG bytes."""
    with plt.rc_context(_STYLE):
        return {name: draw() for name, draw in FIGURES.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the documentation's figures into a folder.")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    for name, svg in render().items():
        (args.output / name).write_bytes(svg)
        print(args.output / name)


if __name__ == "__main__":
    main()
