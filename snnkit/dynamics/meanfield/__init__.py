r"""Mean-field theory of heterogeneous inhibitory LIF networks with δ-pulses.

Units: time in the membrane time constant :math:`\tau_m`, rates in :math:`1/\tau_m`,
dimensionless potential with threshold 1 and reset 0.  Neuron :math:`i` obeys

.. math::

    \dot v_i = I_i - v_i - \frac{g}{K}\sum_{\text{pulses}} \delta(t - t_k),

with :math:`I \sim U[I_l, I_h]` and pulses :math:`g/K` (:math:`K = N` for global
coupling); see ``/work/shared/reference/dynamics.md`` §2 and §4.  One module per topic:

* :mod:`.lif`: the free LIF rate :math:`\nu(\mu) = 1/\ln[\mu/(\mu - 1)]` (exact);
* :mod:`.wta`: global coupling, the Winner-Takes-All solution (exact as N → ∞);
* :mod:`.siegert`, :mod:`.siegert_cv`: rate and ISI CV under white noise;
* :mod:`.shot`: rate under inhibitory Poisson shot noise (finite pulses g/K), and the
  probability of at least one spike in a window;
* :mod:`.sparse`: the Poisson diffusion closure of the note (§4.3);
* :mod:`.shot_fpt`: ISI mean and CV under inhibitory shot noise (first-passage-time
  moments of the jump process);
* :mod:`.fixed_point`: the self-consistent rates of the renewal closures;
* :mod:`.closures`: the candidate closures for sparse networks (issue 13 item 5);
* :mod:`.compare`: their comparison with the measured Fig. 4 curves
  (``python -m snnkit.dynamics.meanfield.compare``).

Everything public is importable from ``snnkit.dynamics.meanfield``.
"""

from .closures import CANDIDATES, ClosureSolution, solve_closure
from .lif import FloatOrArray, lif_rate
from .shot import p_active_window, periodic_fano, shot_noise_rate
from .shot_fpt import shot_noise_isi
from .siegert import siegert_rate
from .siegert_cv import siegert_cv
from .sparse import SparseSolution, g_c_naive, sparse_meanfield
from .wta import WTASolution, wta_curve, wta_solution, wta_solution_discrete

__all__ = [
    "CANDIDATES",
    "ClosureSolution",
    "FloatOrArray",
    "SparseSolution",
    "WTASolution",
    "g_c_naive",
    "lif_rate",
    "p_active_window",
    "periodic_fano",
    "shot_noise_isi",
    "shot_noise_rate",
    "siegert_cv",
    "siegert_rate",
    "solve_closure",
    "sparse_meanfield",
    "wta_curve",
    "wta_solution",
    "wta_solution_discrete",
]
