r"""Golomb-Hansel synchrony ``chi`` of exponentially filtered spike trains.

Each spike train is filtered by a causal exponential kernel of time constant
``tau`` (ms),

    ``x_i(t) = sum_k exp(-(t - t_{i,k})/tau) H(t - t_{i,k})``,
    ``X(t) = (1/n_a) sum_{i in A} x_i(t)``,

and

    ``chi^2 = Var_t[X(t)] / ((1/n_a) sum_{i in A} Var_t[x_i(t)])``,

time variances over the window, population averages over the *active* neurons
``A`` only (``n_a = |A|``): a perfectly synchronous active subset gives ``chi = 1``
whatever the number of silent neurons, independent trains give ``chi ~ n_a^(-1/2)``.

Discretisation (the definition of the values): spike counts ``c[n]`` in ``M`` bins
of width ``dt ~ bin_ms`` (default ``tau/8``), filtered exactly,
``x[n] = a x[n-1] + c[n]`` with ``a = exp(-dt/tau)``, each filter starting at its
stationary mean: ``x[-1] = m / (1 - a)`` with ``m = n_i / M`` the mean count per bin
(starting at 0 would add a start-up transient of relative weight
~ ``n_a nu tau^2 / T`` to ``chi^2``, +40 % at ``n_a = 10^4``, 20 Hz, T = 2 s).

Computation.  ``X`` is the filter of the population count (``scipy.signal.lfilter``).
Each ``x_i`` is never built: between two of its spikes, at bins ``b_k <= n < b_{k+1}``
(``b_{K+1} = M``), it decays geometrically, ``x[n] = X_k a^(n - b_k)``, with
``X_k = a^(b_k - b_{k-1}) X_{k-1} + 1`` the value just after spike ``k``
(``X_0 = a m / (1 - a)``, a virtual spike at bin 0; :func:`~._window.linear_scan`).
Then, with ``l_k = b_{k+1} - b_k``,

    ``sum_n x[n] = sum_k X_k (1 - a^l_k) / (1 - a)``,
    ``sum_n x[n]^2 = sum_k X_k^2 (1 - a^(2 l_k)) / (1 - a^2)``,

and ``Var_t[x_i] = sum x^2 / M - (sum x / M)^2``: ``O(n_spikes)`` work and memory
instead of ``O(n_a M)``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from snnkit.dynamics.measures._window import Window, linear_scan
from snnkit.dynamics.spikes import SpikeTrains

__all__ = ["golomb_chi"]


def golomb_chi(spikes: SpikeTrains, tau: float = 2.0, bin_ms: float | None = None) -> float:
    r"""Golomb-Hansel synchrony ``chi`` of exponentially filtered spike trains.

    ``x_i(t) = sum_k exp(-(t - t_{i,k})/tau) H(t - t_{i,k})`` (``tau`` in ms),
    ``X = (1/n_a) sum_{i in A} x_i`` and

    .. math:: \chi^2 = \frac{\mathrm{Var}_t[X]}{\frac{1}{n_a}\sum_{i\in A}\mathrm{Var}_t[x_i]}

    with ``A`` the active neurons (``>= 1`` spike in the window), so silent
    neurons do not dilute ``chi``: ``chi = 1`` for a perfectly synchronous active
    set, ``chi ~ n_a^(-1/2)`` for independent neurons, and 1 (to rounding) when a
    single neuron is active.  Spikes are binned at ``bin_ms`` (default ``tau/8``,
    adjusted so the bins tile the window) and filtered exactly,
    ``x[n] = exp(-bin/tau) x[n-1] + c[n]``; the time variances run over the whole
    window.  The spikes before ``t_start`` are unknown, so each filter starts at its
    stationary mean (its mean count per bin / (1 - exp(-bin/tau))) instead of 0
    (see the module docstring for the computation).

    Returns NaN when no neuron is active or the window holds a single bin.
    """
    return window_chi(Window.of(spikes), tau, bin_ms)


def window_chi(win: Window, tau: float = 2.0, bin_ms: float | None = None) -> float:
    """:func:`golomb_chi` of a prepared :class:`Window`."""
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    n_bins, dt, b = win.bins(tau / 8.0 if bin_ms is None else bin_ms)
    n_a = win.n_active
    if n_a == 0 or n_bins < 2:
        return math.nan
    a = math.exp(-dt / tau)
    # each filter starts at its stationary mean: a * (mean count per bin) / (1 - a) as the
    # lfilter state (the value x[-1] times a), rather than at 0
    zi_scale = a / (1.0 - a) / n_bins
    c_pop = np.bincount(b, minlength=n_bins).astype(np.float64)
    pop, _ = signal.lfilter([1.0], [1.0, -a], c_pop, zi=[zi_scale * b.size])
    var_pop = float(np.var(pop)) / n_a**2
    var_mean = float(filtered_variances(win.i, b, win.counts, n_bins, dt / tau, zi_scale).sum()
                     ) / n_a
    if not var_mean > 0:
        return math.nan
    return math.sqrt(max(var_pop / var_mean, 0.0))


def filtered_variances(i: np.ndarray, b: np.ndarray, counts: np.ndarray, n_bins: int,
                       rate: float, zi_scale: float) -> np.ndarray:
    """``Var_n[x_i[n]]`` over ``n_bins`` bins of every active neuron's filtered train.

    ``i``/``b``: the spikes' neurons and bins, sorted by neuron then bin; ``counts``
    the spikes per neuron; ``rate = dt/tau`` (``a = exp(-rate)``); the filter of a
    neuron with ``n_i`` spikes starts with the virtual count ``zi_scale n_i`` in bin 0.
    """
    k = counts[counts > 0]
    n_a = k.size
    # the extended train: a virtual spike (weight zi_scale * n_i, bin 0) before each neuron's
    first = np.r_[0, np.cumsum(k)[:-1]] + np.arange(n_a)
    real = np.ones(b.size + n_a, dtype=bool)
    real[first] = False
    bins = np.zeros(b.size + n_a, dtype=np.int64)
    bins[real] = b
    weight = np.ones(bins.size)
    weight[first] = zi_scale * k
    gap = np.empty(bins.size, dtype=np.int64)  # bins since the previous (virtual) spike
    gap[1:] = np.diff(bins)
    gap[first] = 0
    decay = np.exp(-rate * gap)
    decay[first] = 0.0  # chains of different neurons are independent
    x = linear_scan(decay, weight)  # the filter's value just after each (virtual) spike
    length = np.empty(bins.size, dtype=np.int64)
    length[:-1] = gap[1:]
    length[first[1:] - 1] = n_bins - bins[first[1:] - 1]
    length[-1] = n_bins - bins[-1]
    s1 = np.add.reduceat(x * (np.expm1(-rate * length) / math.expm1(-rate)), first)
    s2 = np.add.reduceat(x * x * (np.expm1(-2.0 * rate * length) / math.expm1(-2.0 * rate)),
                         first)
    mean = s1 / n_bins
    return s2 / n_bins - mean * mean
