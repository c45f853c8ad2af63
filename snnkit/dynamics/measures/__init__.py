r"""Measures of a population's spikes in one window (pure functions, no simulator, no I/O).

Every function takes a :class:`~snnkit.dynamics.spikes.SpikeTrains` (neuron
indices ``i``, times ``t`` in ms, population size ``N``, window
``[t_start, t_stop)`` of length ``T`` ms).  Spikes outside the window are ignored.

Notation: ``n_i`` is the number of spikes of neuron ``i`` in the window; a neuron
is *active* when ``n_i >= 1``; ``A`` is the set of active neurons, ``n_a = |A|``.

By topic (each module's docstring carries its equations):

====================  ===========================================================
:mod:`.rates`         ``firing_rates`` ``nu_i = n_i / (T/1000)``, ``active_fraction``
                      ``n_A = #{i : n_i >= 1} / N``, ``cv_isi``
                      ``CV_i = std(ISI_i) / mean(ISI_i)``
:mod:`.synchrony`     ``golomb_chi``: ``chi^2 = Var_t[X] / <Var_t[x_i]>_A`` of
                      exponentially filtered trains
:mod:`.spectra`       ``population_spectrum``: Welch PSDs ``p_pop = P[sum_i c_i]``,
                      ``p_indep = sum_i P[c_i]``
:mod:`.oscillation`   ``co_frequency``, ``spectral_peak``: ``f* = argmax p_pop``,
                      ``kappa = p_pop(f*) / p_indep(f*)`` and the CO criterion
:mod:`.currents`      ``inhibitory_current`` ``c_j = (g/K) tau_m sum_{i->j} r_i``,
                      ``input_fluctuation`` ``sigma_j = (g/K) sqrt(tau_m R_j)``
:mod:`.summary`       ``compute_measures`` (all of the above as one ``dict`` of
                      floats; ``n_active`` is the fraction ``n_A``, not a count)
                      and ``drive_measures``
====================  ===========================================================

The computations are sparse: their work grows with the spikes (or with the pairs
of one neuron's spikes within a Welch segment), not with ``N`` times the number of
bins; only very active neurons get a dense spectrum.  The values are those of the
dense definitions to float rounding (``tests/test_measures_reference.py``).
``docs/measures.md`` has the definitions.
"""

from snnkit.dynamics.measures.currents import inhibitory_current, input_fluctuation
from snnkit.dynamics.measures.oscillation import (
    CO_MIN_SPIKES,
    SpectralPeak,
    co_frequency,
    is_collective_oscillation,
    spectral_peak,
)
from snnkit.dynamics.measures.rates import active_fraction, cv_isi, firing_rates
from snnkit.dynamics.measures.spectra import population_spectrum
from snnkit.dynamics.measures.summary import (
    DRIVE_KEYS,
    MEASURE_KEYS,
    compute_measures,
    drive_measures,
)
from snnkit.dynamics.measures.synchrony import golomb_chi

__all__ = [
    "CO_MIN_SPIKES",
    "DRIVE_KEYS",
    "MEASURE_KEYS",
    "SpectralPeak",
    "active_fraction",
    "co_frequency",
    "compute_measures",
    "cv_isi",
    "drive_measures",
    "firing_rates",
    "golomb_chi",
    "inhibitory_current",
    "input_fluctuation",
    "is_collective_oscillation",
    "population_spectrum",
    "spectral_peak",
]
