"""The objective reached by a short fit, so that a commit that gets faster by getting wrong
shows up.  The objective is recomputed here in numpy from the returned coefficients, not
read from the fit's own loss history."""
from .common import ENGINES, fit_kwargs, logistic_objective, make_data

# name: (optimizer, batch_size, epochs, learning_rate)
JOBS = {
    "sgd-32": ("sgd", 32, 3, 0.05),
    "adam-256": ("adam", 256, 3, 1e-3),
    "nesterov-full": ("nesterov", None, 20, 0.5),
}


class FinalLoss:
    """(1/n) sum log(1 + exp(-y p)) + alpha/2 ||w||^2 after a few epochs, n=100_000, d=64.
    Native and reference agree to the dtype's precision; a higher value than the previous
    commit's means a fit got worse."""

    params = (["float32", "float64"], list(JOBS), list(ENGINES))
    param_names = ["dtype", "job", "engine"]
    unit = "objective"

    def setup(self, dtype, job, engine):
        optimizer, batch_size, epochs, lr = JOBS[job]
        self.X, self.y = make_data(dtype)
        self.fit = ENGINES[engine]
        self.kwargs = fit_kwargs(optimizer, batch_size, max_epochs=epochs, learning_rate=lr)

    def track_final_loss(self, *params):
        res = self.fit(self.X, self.y, **self.kwargs)
        return logistic_objective(self.X, self.y, res.coef, res.intercept)
