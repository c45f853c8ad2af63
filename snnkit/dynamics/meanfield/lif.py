r"""Single LIF neuron with constant drive (exact), shared helpers of the mean-field package.

Time is in units of the membrane time constant :math:`\tau_m`, rates in :math:`1/\tau_m`,
the membrane potential is dimensionless with threshold :math:`v_{th} = 1` and reset
:math:`v_r = 0`.  A neuron with constant drive :math:`\mu` fires periodically iff
:math:`\mu > 1`, at the rate (:func:`lif_rate`)

.. math::

    \nu(\mu) = \frac{1}{\tau_{ref} + \ln\frac{\mu}{\mu - 1}}

(reference note §4.1; with general levels :math:`\ln[(\mu - v_r)/(\mu - v_{th})]`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["FloatOrArray", "lif_rate"]

FloatOrArray = float | NDArray[np.float64]


def _out(x: NDArray[np.float64]) -> FloatOrArray:
    """A 0-d array as a Python float, anything else unchanged."""
    return float(x) if np.ndim(x) == 0 else x


def _det_rate(mu: NDArray[np.float64], tau_ref: float, v_th: float,
              v_r: float) -> NDArray[np.float64]:
    """Deterministic rate 1/(tau_ref + ln[(mu - v_r)/(mu - v_th)]) for mu > v_th, else 0."""
    mu = np.asarray(mu, dtype=np.float64)
    fires = mu > v_th
    safe = np.where(fires, mu, v_th + 1.0)
    # ln[(mu - v_r)/(mu - v_th)] = log1p((v_th - v_r)/(mu - v_th)), accurate for mu >> v_th;
    # mu = inf gives rate inf, mu - v_th below ~1e-308 gives rate 0, silently
    with np.errstate(divide="ignore", over="ignore"):
        period = tau_ref + np.log1p((v_th - v_r) / (safe - v_th))
        return np.where(fires, 1.0 / period, 0.0)


def lif_rate(mu: ArrayLike, tau_ref: float = 0.0) -> FloatOrArray:
    r"""Firing rate of a LIF neuron with constant drive (threshold 1, reset 0).

    .. math:: \nu(\mu) = \frac{1}{\tau_{ref} + \ln\frac{\mu}{\mu - 1}}
              \ \text{for}\ \mu > 1, \qquad \nu = 0\ \text{for}\ \mu \le 1.

    Vectorised over ``mu``; no warnings for ``mu <= 1``.  Returns a float for scalar input.
    """
    if tau_ref < 0:
        raise ValueError(f"tau_ref must be >= 0, got {tau_ref}")
    return _out(_det_rate(np.asarray(mu, dtype=np.float64), float(tau_ref), 1.0, 0.0))
