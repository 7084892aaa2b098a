"""Peer feature-ranking methods, timed, for ``benchmarks/compare.py``.

Each ``rank_*`` function takes training data and returns one or more
:class:`PeerResult` objects: the ranking (feature indices, most relevant
first), the per-feature scores it came from, and the wall-clock and CPU time
it took *including any model training*. A peer whose package is missing comes
back with ``skipped`` set to the reason instead of raising.

Peers
-----
``lassonet``
    LassoNet path (Lemhadri et al. 2021, JMLR 22), ``lassonet`` package:
    ``LassoNetClassifier/Regressor.path`` then ``feature_importances_`` (the
    penalty at which each feature leaves the model; later = more important).
``integrated_gradients``, ``saliency``, ``permutation``
    One plain dense network (same hidden sizes as the spectral one, Adam,
    early stopping on a seeded 10 % validation split) trained once; then
    captum ``IntegratedGradients`` (baseline: the training mean, i.e. the same
    fill value as the spectral masked protocol) or ``Saliency`` averaged as
    mean |attribution| over the training set, and scikit-learn
    ``permutation_importance`` on the validation split. The training time is
    counted in each of the three (reported separately as ``train_seconds``).
``stg``
    Stochastic gates (Yamada et al. 2020, ICML): captum
    ``GaussianStochasticGates`` on the inputs of the same dense net, trained
    with its relaxed L0 penalty; ranking by the gate means ``mu`` (open
    probability ``Phi(mu / std)``).
``f_test``, ``mutual_info``
    scikit-learn univariate ``f_classif`` / ``f_regression`` and
    ``mutual_info_classif`` / ``mutual_info_regression``.
``variance``
    Per-feature variance (unsupervised baseline).
``random``
    A seeded random permutation.

All functions keep torch at the thread count set by the caller (the
benchmarks use 1) and never modify their inputs.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "PeerResult",
    "PEERS",
    "missing_package",
    "rank_lassonet",
    "rank_dense_attributions",
    "rank_stg",
    "StgNet",
    "rank_univariate",
    "rank_variance",
    "rank_random",
    "run_peers",
    "DenseNet",
]

logger = logging.getLogger(__name__)

#: peer name -> Python package it needs (None: only numpy / scikit-learn / torch)
PEERS = {
    "lassonet": "lassonet",
    "integrated_gradients": "captum",
    "saliency": "captum",
    "stg": "captum",
    "permutation": None,
    "f_test": None,
    "mutual_info": None,
    "variance": None,
    "random": None,
}


@dataclass
class PeerResult:
    """One ranking and what it cost.

    Attributes
    ----------
    name : str
    ranking : numpy.ndarray or None
        Feature indices, most relevant first (None when skipped).
    scores : numpy.ndarray or None
        The per-feature score the ranking sorts (higher = more relevant).
    seconds : float or None
        Wall-clock time, training included.
    cpu_seconds : float or None
        Process CPU time over the same span (less sensitive to other jobs on
        a shared machine).
    skipped : str or None
        Why the peer did not run.
    details : dict
        Settings and by-products (training time, path length, ...).
    """

    name: str
    ranking: np.ndarray | None = None
    scores: np.ndarray | None = None
    seconds: float | None = None
    cpu_seconds: float | None = None
    skipped: str | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self, with_ranking=True):
        out = {
            "name": self.name,
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "skipped": self.skipped,
            "details": self.details,
        }
        if with_ranking and self.ranking is not None:
            out["ranking"] = [int(i) for i in self.ranking]
        return out


class _Clock:
    def __enter__(self):
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.cpu_seconds = time.process_time() - self.c0
        return False


def missing_package(name):
    """Why peer ``name`` cannot run (its package is missing), or None."""
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; known: {sorted(PEERS)}")
    package = PEERS[name]
    if package is not None and importlib.util.find_spec(package) is None:
        return f"package {package!r} is not installed (pip install 'stellar-relevance[bench]')"
    return None


def ranking_from_scores(scores):
    """Indices sorted by decreasing score (ties keep feature order); NaN last."""
    scores = np.asarray(scores, dtype=float)
    key = np.where(np.isfinite(scores), scores, -np.inf)
    key = np.where(np.isposinf(scores), np.finfo(float).max, key)
    return np.argsort(-key, kind="stable")


def _check_task(task):
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")


def _scaler(input_scaling):
    from sklearn.preprocessing import StandardScaler

    if input_scaling == "standard":
        return StandardScaler()
    if input_scaling == "center":
        return StandardScaler(with_std=False)
    if input_scaling == "none":
        return StandardScaler(with_mean=False, with_std=False)
    raise ValueError(f"input_scaling must be 'standard', 'center' or 'none', got {input_scaling!r}")


# --------------------------------------------------------------------------
# LassoNet
# --------------------------------------------------------------------------
def rank_lassonet(
    X,
    y,
    task,
    *,
    hidden_dims=(100,),
    lambda_start="auto",
    path_multiplier=1.02,
    n_iters=(1000, 100),
    patience=(100, 10),
    M=10,
    batch_size=None,
    input_scaling="standard",
    random_state=0,
):
    """Rank features by the LassoNet path.

    Parameters
    ----------
    X, y : numpy.ndarray
    task : {"classification", "regression"}
    hidden_dims, lambda_start, path_multiplier, n_iters, patience, M, batch_size
        Passed to LassoNet (its defaults, except ``verbose=0``). With
        ``lambda_start="auto"`` LassoNet searches the first penalty of the
        path itself; that search is timed on its own
        (``details["lambda_start_seconds"]``) and included in ``seconds``.
    input_scaling : {"standard", "center", "none"}
        How X is scaled before LassoNet sees it.
    random_state : int
        LassoNet's ``random_state`` (validation split) and ``torch_seed``.

    Returns
    -------
    PeerResult
        ``scores`` = ``feature_importances_`` (penalty at which each feature
        leaves; ``inf`` for features still in the model when the path ended).
    """
    _check_task(task)
    reason = missing_package("lassonet")
    if reason:
        return PeerResult("lassonet", skipped=reason)
    import torch
    from lassonet import LassoNetClassifier, LassoNetRegressor

    base = LassoNetClassifier if task == "classification" else LassoNetRegressor
    search = {"seconds": 0.0}

    class cls(base):  # times LassoNet's automatic lambda_start search
        def _init_model(self, X, y):
            super()._init_model(X, y)
            inner = self.model.lambda_start

            def timed(*args, **kwargs):
                t0 = time.perf_counter()
                try:
                    return inner(*args, **kwargs)
                finally:
                    search["seconds"] += time.perf_counter() - t0

            self.model.lambda_start = timed

    settings = dict(
        hidden_dims=tuple(hidden_dims),
        lambda_start=lambda_start,
        path_multiplier=path_multiplier,
        n_iters=tuple(n_iters),
        patience=tuple(patience),
        M=M,
        batch_size=batch_size,
        input_scaling=input_scaling,
        random_state=random_state,
    )
    with _Clock() as clock:
        Xs = _scaler(input_scaling).fit_transform(np.asarray(X, dtype=np.float32))
        yy = np.asarray(y)
        if task == "regression":
            yy = (yy - yy.mean()) / (yy.std() or 1.0)
        lassonet_args = {key: value for key, value in settings.items() if key != "input_scaling"}
        model = cls(**lassonet_args, verbose=0, torch_seed=random_state, device=torch.device("cpu"))
        path = model.path(Xs, yy, return_state_dicts=False, disable_lambda_warning=True)
        scores = model.feature_importances_.numpy().astype(float)
    details = dict(settings, path_length=len(path), n_never_dropped=int(np.isposinf(scores).sum()),
                   lambda_start_used=float(getattr(model, "lambda_start_", lambda_start)),
                   lambda_start_seconds=search["seconds"],
                   last_lambda=float(path[-1].lambda_))
    return PeerResult(
        "lassonet",
        ranking=ranking_from_scores(scores),
        scores=scores,
        seconds=clock.seconds,
        cpu_seconds=clock.cpu_seconds,
        details=details,
    )


# --------------------------------------------------------------------------
# plain dense network + attributions
# --------------------------------------------------------------------------
class DenseNet:
    """A plain dense ReLU network with a scikit-learn face (fit / predict / score).

    Parameters
    ----------
    task : {"classification", "regression"}
    hidden_layer_sizes : tuple of int
    learning_rate, max_epochs, batch_size, n_iter_no_change : training settings
        Adam; early stopping on a seeded ``validation_fraction`` of the data,
        best-validation weights restored.
    input_scaling : {"standard", "center", "none"}
    random_state : int
    """

    def __init__(
        self,
        task="classification",
        hidden_layer_sizes=(100, 100, 50),
        learning_rate=1e-3,
        max_epochs=200,
        batch_size=500,
        validation_fraction=0.1,
        n_iter_no_change=50,
        input_scaling="center",
        random_state=0,
    ):
        _check_task(task)
        self.task = task
        self.hidden_layer_sizes = tuple(hidden_layer_sizes)
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.input_scaling = input_scaling
        self.random_state = random_state

    # sklearn's permutation_importance only needs predict / score
    def get_params(self, deep=True):
        return {k: getattr(self, k) for k in (
            "task", "hidden_layer_sizes", "learning_rate", "max_epochs", "batch_size",
            "validation_fraction", "n_iter_no_change", "input_scaling", "random_state")}

    def fit(self, X, y):
        import torch
        from sklearn.model_selection import train_test_split

        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y)
        torch.manual_seed(self.random_state)
        stratify = y if self.task == "classification" else None
        X_tr, X_va, y_tr, y_va = train_test_split(
            X, y, test_size=self.validation_fraction, random_state=self.random_state, stratify=stratify
        )
        self.scaler_ = _scaler(self.input_scaling).fit(X_tr)
        if self.task == "classification":
            self.classes_, y_tr_enc = np.unique(y_tr, return_inverse=True)
            y_va_enc = np.searchsorted(self.classes_, y_va)
            n_out = len(self.classes_)
            loss_fn = torch.nn.CrossEntropyLoss()
            to_target = lambda v: torch.as_tensor(v, dtype=torch.long)  # noqa: E731
        else:
            self.y_mean_, self.y_std_ = float(y_tr.mean()), float(y_tr.std() or 1.0)
            y_tr_enc = (y_tr - self.y_mean_) / self.y_std_
            y_va_enc = (y_va - self.y_mean_) / self.y_std_
            n_out = 1
            loss_fn = torch.nn.L1Loss()
            to_target = lambda v: torch.as_tensor(v, dtype=torch.float32).reshape(-1, 1)  # noqa: E731
        net = self._build(X.shape[1], n_out)
        opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        xt = torch.as_tensor(self.scaler_.transform(X_tr), dtype=torch.float32)
        xv = torch.as_tensor(self.scaler_.transform(X_va), dtype=torch.float32)
        yt, yv = to_target(y_tr_enc), to_target(y_va_enc)
        gen = torch.Generator().manual_seed(self.random_state)
        best, best_state, since = np.inf, None, 0
        self.n_epochs_ = 0
        for epoch in range(self.max_epochs):
            net.train()
            order = torch.randperm(len(xt), generator=gen)
            for start in range(0, len(xt), self.batch_size):
                idx = order[start : start + self.batch_size]
                opt.zero_grad()
                loss = loss_fn(net(xt[idx]), yt[idx]) + self._penalty(net)
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                val = float(loss_fn(net(xv), yv))
            self.n_epochs_ = epoch + 1
            if val < best:
                best, since = val, 0
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
            else:
                since += 1
                if since >= self.n_iter_no_change:
                    break
        net.load_state_dict(best_state)
        net.eval()
        self.network_ = net
        self.best_val_loss_ = best
        return self

    def _build(self, n_in, n_out):
        """The torch network: dense ReLU layers (subclasses prepend gates)."""
        import torch

        layers, width = [], n_in
        for h in self.hidden_layer_sizes:
            layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
            width = h
        layers.append(torch.nn.Linear(width, n_out))
        return torch.nn.Sequential(*layers)

    def _penalty(self, net):
        """Extra training loss (none for the plain net)."""
        return 0.0

    def _forward(self, X):
        import torch

        xt = torch.as_tensor(self.scaler_.transform(np.asarray(X, dtype=np.float32)), dtype=torch.float32)
        with torch.no_grad():
            return self.network_(xt).numpy()

    def predict(self, X):
        out = self._forward(X)
        if self.task == "classification":
            return self.classes_[out.argmax(axis=1)]
        return out[:, 0] * self.y_std_ + self.y_mean_

    def score(self, X, y):
        from sklearn.metrics import accuracy_score, r2_score

        pred = self.predict(X)
        return accuracy_score(y, pred) if self.task == "classification" else r2_score(y, pred)

    def attribute(self, X, y, method="integrated_gradients", *, n_steps=32, batch_size=1000):
        """Mean |attribution| per input over the rows of X (original units).

        ``integrated_gradients`` uses the training mean as baseline (zero in
        the scaled inputs); attributions of classifiers target the true class.
        """
        import torch
        from captum.attr import IntegratedGradients, Saliency

        algo = IntegratedGradients(self.network_) if method == "integrated_gradients" else Saliency(self.network_)
        Xs = self.scaler_.transform(np.asarray(X, dtype=np.float32)).astype(np.float32)
        if self.task == "classification":
            target_all = np.searchsorted(self.classes_, np.asarray(y))
        total = np.zeros(X.shape[1])
        for start in range(0, len(Xs), batch_size):
            xb = torch.as_tensor(Xs[start : start + batch_size]).requires_grad_(True)
            target = (
                torch.as_tensor(target_all[start : start + batch_size], dtype=torch.long)
                if self.task == "classification"
                else 0
            )
            if method == "integrated_gradients":
                attr = algo.attribute(xb, baselines=torch.zeros_like(xb.detach()), target=target, n_steps=n_steps)
            else:
                attr = algo.attribute(xb, target=target, abs=True)
            total += attr.detach().abs().sum(dim=0).numpy()
        # attributions of scaled inputs; for "standard" scaling the gradient
        # w.r.t. the original input is grad / scale, IG is invariant.
        scores = total / len(Xs)
        if method == "saliency" and getattr(self.scaler_, "scale_", None) is not None:
            scores = scores / self.scaler_.scale_
        return scores


class StgNet(DenseNet):
    """:class:`DenseNet` behind captum ``GaussianStochasticGates`` on its inputs (STG, Yamada et al. 2020).

    Each input is multiplied by a gate ``clamp(mu + N(0, std^2), 0, 1)``
    during training (``mu`` alone at evaluation); the loss adds
    ``reg_weight`` x the mean probability that a gate is open
    (``reg_reduction="mean"``), the relaxed L0 penalty of the STG paper.

    Parameters
    ----------
    reg_weight : float
        L0 weight (default 0.1).
    gate_std : float
        Standard deviation of the gate noise (captum's default 0.5).
    **kwargs
        :class:`DenseNet` settings.
    """

    def __init__(self, task="classification", reg_weight=0.1, gate_std=0.5, **kwargs):
        super().__init__(task=task, **kwargs)
        self.reg_weight = reg_weight
        self.gate_std = gate_std

    def get_params(self, deep=True):
        return dict(super().get_params(deep), reg_weight=self.reg_weight, gate_std=self.gate_std)

    def _build(self, n_in, n_out):
        import torch
        from captum.module import GaussianStochasticGates

        dense = super()._build(n_in, n_out)
        gates = GaussianStochasticGates(n_in, reg_weight=self.reg_weight, std=self.gate_std, reg_reduction="mean")

        class Gated(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.gates, self.dense, self.last_reg = gates, dense, 0.0

            def forward(self, x):
                gated, self.last_reg = self.gates(x)
                return self.dense(gated)

        return Gated()

    def _penalty(self, net):
        return net.last_reg if net.training else 0.0

    def gate_values(self):
        """The learned gate means ``mu`` (unclamped) and the probability that each gate is open."""
        gates = self.network_.gates
        return (gates.get_gate_values(clamp=False).detach().numpy().astype(float),
                gates.get_gate_active_probs().detach().numpy().astype(float))


def rank_stg(X, y, task, *, network=None, reg_weight=0.1, random_state=0):
    """Rank inputs by the open probability of stochastic gates trained with a dense net.

    Parameters
    ----------
    X, y : numpy.ndarray
    task : {"classification", "regression"}
    network : dict, optional
        :class:`DenseNet` settings (hidden sizes, epochs, learning rate ...).
    reg_weight : float
        STG's L0 weight.
    random_state : int

    Returns
    -------
    PeerResult
        ``scores`` = the gate means ``mu`` (the open probability is a monotone
        function of it, and ties less); ``details["n_open"]`` counts gates
        with open probability above 0.5.
    """
    _check_task(task)
    reason = missing_package("stg")
    if reason:
        return PeerResult("stg", skipped=reason)
    settings = dict(network or {})
    settings.setdefault("random_state", random_state)
    with _Clock() as clock:
        net = StgNet(task=task, reg_weight=reg_weight, **settings).fit(X, y)
        mu, prob = net.gate_values()
    return PeerResult("stg", ranking=ranking_from_scores(mu), scores=mu, seconds=clock.seconds,
                      cpu_seconds=clock.cpu_seconds,
                      details={"network": net.get_params(), "n_epochs": net.n_epochs_,
                               "n_open": int((prob > 0.5).sum()), "reg_weight": reg_weight})


def rank_dense_attributions(
    X,
    y,
    task,
    *,
    methods=("integrated_gradients", "saliency", "permutation"),
    network=None,
    ig_steps=32,
    n_repeats=5,
    max_attribution_rows=None,
    random_state=0,
):
    """Train one plain dense net, then rank by IG, saliency and permutation importance.

    Parameters
    ----------
    X, y : numpy.ndarray
        Training data (attributions are averaged over it; permutation
        importance uses the net's own validation split of it).
    task : {"classification", "regression"}
    methods : iterable of str
    network : dict, optional
        :class:`DenseNet` settings (hidden sizes, epochs, learning rate ...).
    ig_steps : int
        Riemann steps of Integrated Gradients.
    n_repeats : int
        Repeats of permutation importance.
    max_attribution_rows : int, optional
        Average IG / saliency over a seeded subsample of at most this many
        training rows (None: all of them).
    random_state : int

    Returns
    -------
    list of PeerResult
        ``seconds`` = training + attribution time; ``details["train_seconds"]``
        and ``details["attribution_seconds"]`` separately.
    """
    _check_task(task)
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import train_test_split

    methods = list(methods)
    results, runnable = [], []
    for method in methods:
        reason = missing_package(method)
        if reason:
            results.append(PeerResult(method, skipped=reason))
        else:
            runnable.append(method)
    if not runnable:
        return results
    settings = dict(network or {})
    settings.setdefault("random_state", random_state)
    with _Clock() as train_clock:
        net = DenseNet(task=task, **settings).fit(X, y)
    base = dict(
        network=net.get_params(),
        n_epochs=net.n_epochs_,
        train_seconds=train_clock.seconds,
        train_cpu_seconds=train_clock.cpu_seconds,
    )
    for method in runnable:
        with _Clock() as clock:
            if method == "permutation":
                stratify = y if task == "classification" else None
                _, X_va, _, y_va = train_test_split(
                    X, y, test_size=net.validation_fraction, random_state=net.random_state, stratify=stratify
                )
                imp = permutation_importance(
                    net, X_va, y_va, n_repeats=n_repeats, random_state=random_state, n_jobs=1
                )
                scores = imp.importances_mean
                extra = {"n_repeats": n_repeats, "n_rows": len(y_va)}
            else:
                rows = np.arange(len(y))
                if max_attribution_rows is not None and len(rows) > max_attribution_rows:
                    rows = np.sort(np.random.default_rng(random_state).choice(
                        len(rows), max_attribution_rows, replace=False))
                scores = net.attribute(np.asarray(X)[rows], np.asarray(y)[rows], method, n_steps=ig_steps)
                extra = {"n_rows": len(rows)}
                if method == "integrated_gradients":
                    extra["n_steps"] = ig_steps
        results.append(
            PeerResult(
                method,
                ranking=ranking_from_scores(scores),
                scores=np.asarray(scores, dtype=float),
                seconds=train_clock.seconds + clock.seconds,
                cpu_seconds=train_clock.cpu_seconds + clock.cpu_seconds,
                details=dict(base, attribution_seconds=clock.seconds, **extra),
            )
        )
    order = {m: i for i, m in enumerate(methods)}
    return sorted(results, key=lambda r: order[r.name])


# --------------------------------------------------------------------------
# filters and baselines
# --------------------------------------------------------------------------
def rank_univariate(X, y, task, *, methods=("f_test", "mutual_info"), random_state=0):
    """Univariate filters: ANOVA F / regression F and mutual information."""
    _check_task(task)
    from sklearn.feature_selection import (
        f_classif,
        f_regression,
        mutual_info_classif,
        mutual_info_regression,
    )
    import warnings

    results = []
    for method in methods:
        with _Clock() as clock, warnings.catch_warnings():
            # constant features (blank MNIST border) give F = nan: ranked last
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.filterwarnings("ignore", message=r"(?s)Features .* are constant")
            if method == "f_test":
                fn = f_classif if task == "classification" else f_regression
                scores = fn(X, y)[0]
            elif method == "mutual_info":
                fn = mutual_info_classif if task == "classification" else mutual_info_regression
                scores = fn(X, y, random_state=random_state)
            else:
                raise ValueError(f"unknown univariate method {method!r}")
        scores = np.asarray(scores, dtype=float)
        results.append(
            PeerResult(
                method,
                ranking=ranking_from_scores(scores),
                scores=scores,
                seconds=clock.seconds,
                cpu_seconds=clock.cpu_seconds,
                details={"n_nan_scores": int(np.isnan(scores).sum())},
            )
        )
    return results


def rank_variance(X):
    """Per-feature variance (ignores y)."""
    with _Clock() as clock:
        scores = np.asarray(X, dtype=float).var(axis=0)
    return PeerResult("variance", ranking=ranking_from_scores(scores), scores=scores,
                      seconds=clock.seconds, cpu_seconds=clock.cpu_seconds)


def rank_random(n_features, random_state=0):
    """A seeded random permutation of the features."""
    with _Clock() as clock:
        ranking = np.random.default_rng(random_state).permutation(n_features)
    scores = np.empty(n_features)
    scores[ranking] = np.arange(n_features, 0, -1, dtype=float)
    return PeerResult("random", ranking=ranking, scores=scores,
                      seconds=clock.seconds, cpu_seconds=clock.cpu_seconds,
                      details={"random_state": random_state})


def run_peers(X, y, task, names=tuple(PEERS), *, random_state=0, lassonet=None, dense=None,
              ig_steps=32, n_repeats=5, max_attribution_rows=None):
    """Run the named peers on (X, y).

    Parameters
    ----------
    X, y : numpy.ndarray
    task : {"classification", "regression"}
    names : iterable of str
        Subset of :data:`PEERS`.
    random_state : int
    lassonet : dict, optional
        Keyword arguments of :func:`rank_lassonet`.
    dense : dict, optional
        :class:`DenseNet` settings for the attribution peers.
    ig_steps, n_repeats, max_attribution_rows : int
        See :func:`rank_dense_attributions`.

    Returns
    -------
    list of PeerResult, in the order of ``names``.
    """
    names = list(names)
    for name in names:
        missing_package(name)  # raises on unknown names
    out = {}
    if "lassonet" in names:
        logger.info("LassoNet path ...")
        out["lassonet"] = rank_lassonet(X, y, task, random_state=random_state, **(lassonet or {}))
    dense_methods = [n for n in names if n in ("integrated_gradients", "saliency", "permutation")]
    if dense_methods:
        logger.info("dense net + %s ...", dense_methods)
        for r in rank_dense_attributions(X, y, task, methods=dense_methods, network=dense,
                                         ig_steps=ig_steps, n_repeats=n_repeats,
                                         max_attribution_rows=max_attribution_rows,
                                         random_state=random_state):
            out[r.name] = r
    if "stg" in names:
        logger.info("stochastic gates ...")
        out["stg"] = rank_stg(X, y, task, network=dense, random_state=random_state)
    uni = [n for n in names if n in ("f_test", "mutual_info")]
    if uni:
        for r in rank_univariate(X, y, task, methods=uni, random_state=random_state):
            out[r.name] = r
    if "variance" in names:
        out["variance"] = rank_variance(X)
    if "random" in names:
        out["random"] = rank_random(np.asarray(X).shape[1], random_state=random_state)
    return [out[n] for n in names]
