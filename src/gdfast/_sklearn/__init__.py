"""scikit-learn estimators on gdfast's driver: :class:`GDClassifier` and :class:`GDRegressor`.

Both expose every option of :func:`gdfast.fit` under the same name, and add what an
estimator needs: ``multi_class`` and ``class_weight`` (classifier), ``warm_start``,
``early_stopping`` and ``validation_fraction``.  ``partial_fit`` and ``warm_start`` continue
from the training state of the previous call.

The package imports scikit-learn; ``gdfast`` imports it only when an estimator is first
used.  _compat.py holds what differs between scikit-learn versions, _runner.py trains the
models of one call (in threads when there are several), _base.py what both estimators
share, and _classifier.py and _regressor.py the estimators.
"""
from gdfast._sklearn._classifier import GDClassifier
from gdfast._sklearn._regressor import GDRegressor

__all__ = ["GDClassifier", "GDRegressor"]
