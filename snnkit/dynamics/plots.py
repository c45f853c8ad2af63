"""Figures of single runs: the raster with population rate and rate-versus-excitability panels.

The right-hand panel is a parameter-free check of the model: each neuron's
measured rate against its excitability I_i, with two predictions for the
neuron's *measured* input, mean drive mu_i = I_i - c_i (c_i its measured mean
inhibitory input): the free-LIF rate 1/(tau_m ln[mu_i/(mu_i - 1)]) (no
fluctuations), and the first-passage (Siegert) rate with the measured shot noise
sigma_i (:func:`snnkit.dynamics.measures.input_fluctuation`, diffusion
approximation).  With global coupling (pulses g/N) the dots sit on the Siegert
curve and the active set is the block above mu_i ~ 1 (winner-takes-all).  In
sparse networks firing below mu_i = 1 is fluctuation-driven; large pulses
g/K and quasi-regular presynaptic trains make the diffusion approximation
over-estimate those rates, so the truth lies between the two predictions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt
import numpy as np

from snnkit.dynamics.meanfield import siegert_rate
from snnkit.dynamics.measures import inhibitory_current, input_fluctuation

if TYPE_CHECKING:
    from snnkit.dynamics.result import SimulationResult


#: Largest pulse g/K (threshold units) for which the Siegert curve is drawn.
MAX_DIFFUSION_PULSE = 0.5


def raster_figure(result: SimulationResult, show_ms: float = 500.0, max_dots: int = 200_000,
                  rate_bin_ms: float = 1.0):
    """Raster (last ``show_ms`` of the window), population rate, and rate vs I.

    Neurons are drawn in excitability order (the neuron index is the rank of
    I_i).  At most ``max_dots`` spikes are drawn (evenly thinned beyond).
    """
    cfg, sp = result.config, result.spikes
    t1 = sp.t_stop
    t0 = max(sp.t_start, t1 - show_ms)
    part = sp.select(t0, t1)
    fig = plt.figure(figsize=(11, 6.2), constrained_layout=True)
    grid = fig.add_gridspec(2, 2, width_ratios=[3, 1.2], height_ratios=[3, 1])
    ax_r = fig.add_subplot(grid[0, 0])
    ax_p = fig.add_subplot(grid[1, 0], sharex=ax_r)
    ax_i = fig.add_subplot(grid[:, 1])

    step = max(1, part.n_spikes // max_dots)
    ax_r.scatter(part.t[::step], part.i[::step], s=1.2, c="k", marker=".", linewidths=0)
    ax_r.set_ylim(-0.5, sp.N - 0.5)
    ax_r.set_ylabel("neuron (ordered by excitability $I_i$)")
    m = result.measures
    co = m.get("co_frequency_hz", np.nan)
    co_txt = "none" if not np.isfinite(co) else f"{co:.1f} Hz"
    ax_r.set_title(
        f"{cfg.coupling}, N={cfg.N}" + (f", K={cfg.K}" if cfg.coupling == "sparse" else "")
        + f", g={cfg.g:g}, $t_d$={cfg.delay:g} ms, {cfg.pulse} pulses  |  "
        f"$n_A$={m['n_active']:.3f}, rate={m['mean_rate_hz']:.1f} Hz, "
        f"CV={m['cv_mean']:.2f}, $\\chi$={m['chi']:.2f}, CO: {co_txt}", fontsize=9)
    plt.setp(ax_r.get_xticklabels(), visible=False)

    edges = np.arange(t0, t1 + rate_bin_ms / 2, rate_bin_ms)
    counts, _ = np.histogram(part.t, edges)
    ax_p.plot(edges[:-1], counts / (sp.N * rate_bin_ms * 1e-3), lw=0.7, c="C0")
    ax_p.set_xlabel("time (ms)")
    ax_p.set_ylabel("pop. rate (Hz)")
    ax_p.set_xlim(t0, t1)

    rates = result.rates_hz
    args = (sp, cfg.g, cfg.in_degree, cfg.tau_m, result.pre, result.post)
    mu = result.I - inhibitory_current(*args)
    sigma = input_fluctuation(*args)
    order = np.argsort(result.I)
    to_hz, ref = 1.0 / (cfg.tau_m * 1e-3), cfg.t_ref / cfg.tau_m
    ax_i.plot(result.I, rates, ".", ms=2.5, c="k", label="measured")
    pulse = cfg.g / cfg.in_degree
    predictions = [(np.zeros_like(sigma), "C3", r"$\sigma = 0$ (free LIF)")]
    if pulse <= MAX_DIFFUSION_PULSE:
        predictions.append((sigma, "C0", r"$\sigma_i$ measured (Siegert)"))
    else:
        ax_i.plot([], [], " ", label=f"no Siegert curve: pulses g/K = {pulse:.3g}\n"
                                     "too large for a diffusion")
    top = float(rates.max(initial=0.0))
    for s, color, name in predictions:
        predicted = siegert_rate(mu[order], s[order], tau_ref=ref) * to_hz
        label = f"at measured $\\mu_i = I_i - c_i$, {name}"
        if cfg.coupling == "global":  # one drive for all: a curve
            ax_i.plot(result.I[order], predicted, c=color, lw=1.1, label=label)
        else:  # each neuron its own measured drive
            ax_i.plot(result.I[order], predicted, "x", ms=2.5, c=color, mew=0.5, label=label)
    ax_i.set_ylim(bottom=-0.03 * max(top, 1.0), top=1.25 * max(top, 1.0))
    ax_i.set_xlabel("excitability $I_i$")
    ax_i.set_ylabel("rate (Hz)")
    ax_i.legend(fontsize=7, loc="upper left")
    ax_i.set_title(f"mean inhibition $\\langle c\\rangle$={m['mean_inhibitory_current']:.3f}",
                   fontsize=9)
    return fig
