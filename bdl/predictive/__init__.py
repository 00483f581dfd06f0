"""Predictive distribution objects: one object per call of a model's ``predict_dist``.

Every object describes ``n`` independent one-dimensional predictive distributions, one per
candidate / test point, and offers one API whatever model produced it:

``mean``, ``stddev``, ``variance``, ``epistemic_variance``, ``aleatoric_variance``,
``sample(n_samples, seed)``, ``log_prob(y)``, ``cdf(y)``, ``sf(y)``, ``log_cdf(y)``,
``log_sf(y)``, ``quantile(q)``, ``interval(level)``, ``to_frame()``, ``as_mixture()``,
``to_tfp()``, row selection with ``p[index]`` and :func:`concat`.

Four kinds exist (the ``kind`` class attribute):

``"gaussian"`` -- :class:`GaussianPredictive`
    A normal distribution per point (variational / mean-field nets, a moment-matched summary).
``"mixture"`` -- :class:`MixturePredictive`
    A Gaussian mixture per point, the output of a mixture density network [1]_.
``"samples"`` -- :class:`SamplePredictive`
    Either the equal-weight mixture of the per-pass Gaussians of MC dropout [2]_ or of the
    members of a deep ensemble [3]_ (``scales`` given; *not* a moment-matched Gaussian), or a
    set of plain samples smoothed by a Gaussian kernel density estimate (``scales=None``).
``"bounded"`` -- :class:`BoundedPredictive`
    Individually truncated Gaussian components on ``[lower, upper]`` plus point masses at the
    bounds: a band gap that is >= 0 and exactly 0 for a metal [6]_.

The package has one module per kind (``gaussian``, ``mixture``, ``samples``, ``bounded``),
the contract in ``base`` and the shared numerics in ``_numerics`` (validation, Gaussian
mixtures, truncated normals), ``_crps``, ``_improvement`` (LogEI) and ``_generic``, as BoTorch
arranges its ``posteriors``. The contract follows TensorFlow Probability's ``Distribution``:
the public methods of :class:`Predictive` validate ``y``, levels, ``level`` and
``n_samples`` and are never overridden; each kind implements private hooks (``_log_prob``,
``_cdf``, ``_sf``, ``_log_cdf``, ``_log_sf``, ``_left_cdf``, ``_quantile``, ``_sample``,
``_crps``, ``_expected_improvement``, ``_log_expected_improvement``, ``_window_probability``,
``_log_window_probability``, ``_spread_scaled``, ``_prediction_columns``, ``_concat``).
The defaults in the base are the Gaussian-mixture closed forms (the first three kinds write
themselves as mixtures with :meth:`Predictive.as_mixture`); the bounded kind has exact forms
of its own; kinds with no closed form (the recalibrated and conformalised predictives of
:mod:`bdl.calibration`) use exact one-dimensional quadrature and quantile-based evaluation
(``Predictive._generic_*``). So metrics, recalibrators, reports and acquisition functions
call one interface and never dispatch on the kind. :meth:`Predictive.to_records` and
:func:`predictive_from_records` write and read one JSON string per point for a ledger. The
package uses numpy and scipy only; TensorFlow Probability is imported lazily, inside
:meth:`Predictive.to_tfp`, and nowhere else.

References
----------
.. [1] C. M. Bishop, "Mixture density networks", Aston University technical report
   NCRG/94/004, 1994.
.. [2] Y. Gal and Z. Ghahramani, "Dropout as a Bayesian approximation: representing model
   uncertainty in deep learning", ICML 2016.
.. [3] B. Lakshminarayanan, A. Pritzel and C. Blundell, "Simple and scalable predictive
   uncertainty estimation using deep ensembles", NeurIPS 2017.
.. [4] A. Kendall and Y. Gal, "What uncertainties do we need in Bayesian deep learning for
   computer vision?", NeurIPS 2017 (the epistemic / aleatoric split by the law of total
   variance).
.. [5] B. W. Silverman, "Density Estimation for Statistics and Data Analysis", Chapman & Hall,
   1986, eq. (3.31) (the bandwidth rule of thumb).
.. [6] N. L. Johnson, S. Kotz and N. Balakrishnan, "Continuous Univariate Distributions",
   vol. 1, 2nd ed., Wiley, 1994, sec. 10.1 (the truncated normal).
"""

from bdl.predictive._numerics import _log_ndtr_diff
from bdl.predictive._ops import concat, predictive_from_records, truncate
from bdl.predictive.base import Predictive
from bdl.predictive.bounded import BoundedPredictive
from bdl.predictive.gaussian import GaussianPredictive
from bdl.predictive.mixture import MixturePredictive
from bdl.predictive.samples import SamplePredictive

__all__ = [
    "Predictive",
    "GaussianPredictive",
    "MixturePredictive",
    "SamplePredictive",
    "BoundedPredictive",
    "concat",
    "predictive_from_records",
    "truncate",
]
