"""What differs between scikit-learn versions, in one place: validate_data (a function
since 1.6, a method before) and the callback API (sklearn.callback, where it exists).

Without sklearn.callback the estimators have no callback base class, with_callbacks leaves
the methods as they are, and callback_root hands out a context that does nothing.
"""
try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

try:  # the callback API (sklearn.callback: ProgressBar, ScoringMonitor), where it exists
    from sklearn.callback import CallbackSupportMixin, with_callbacks
    CALLBACK_BASES = (CallbackSupportMixin,)
except ImportError:  # pragma: no cover - scikit-learn without sklearn.callback
    CALLBACK_BASES = ()

    def with_callbacks(method):
        return method


class _NoContext:
    """Stands in for sklearn.callback.CallbackContext where the API is missing."""

    def subcontext(self, *args, **kwargs):
        return self

    def call_on_fit_task_begin(self, **kwargs):
        return self

    def call_on_fit_task_end(self, **kwargs):
        return False


def callback_root(estimator, **kwargs):
    """The root callback context of a fit or partial_fit call of estimator."""
    if CALLBACK_BASES:
        return estimator._init_callback_context(**kwargs)
    return _NoContext()
