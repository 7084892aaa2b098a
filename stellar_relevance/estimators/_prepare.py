"""The one data preparation of every training: rows, input scaling, given labels, validation split, batches.

:func:`prepare` computes, from the training rows of ``X`` alone, what a fit
needs before its first step, and changes nothing: ``fit`` stores it as
learned attributes, the stacked trainer and ``select`` use it as it is.
"""

import logging
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from stellar_relevance.exceptions import ParameterError
from stellar_relevance.nn.batches import ArrayBatches, column_moments

logger = logging.getLogger("stellar_relevance.estimators")


@dataclass
class Preparation:
    """The training rows and how they are scaled and split.

    Attributes
    ----------
    rows : ndarray of int
        The rows of ``X`` trained on.
    train_pos, val_pos : ndarray of int
        Positions into ``rows`` of the training and validation parts.
    stratified : bool
        Whether the split is stratified by class.
    feature_means, input_offset, input_scale : ndarray of shape (n_features,)
        The mean of every input over ``rows``, and what is subtracted from,
        then divided into, every input.
    given_offset, given_scale : ndarray of shape (n_given,)
        The same for the given labels (empty without).
    given : ndarray of shape (n_samples, n_given) or None
        The given labels, scaled, aligned with ``X``.
    """

    rows: np.ndarray
    train_pos: np.ndarray
    val_pos: np.ndarray
    stratified: bool
    feature_means: np.ndarray
    input_offset: np.ndarray
    input_scale: np.ndarray
    given_offset: np.ndarray
    given_scale: np.ndarray
    given: np.ndarray = None

    def view(self, X, rows, device, given=None):
        """:class:`~stellar_relevance.nn.batches.ArrayBatches` of any ``rows`` of ``X`` with this scaling
        (``given``: scaled labels of those rows, or None)."""
        return ArrayBatches(X, rows, self.input_offset, self.input_scale, device, given)

    def batches(self, X, positions, device, with_given=True):
        """The :meth:`view` of the training rows at ``positions``, with their given labels unless
        ``with_given`` is False."""
        rows = self.rows[positions]
        return self.view(X, rows, device, None if self.given is None or not with_given else self.given[rows])

    def scale_given(self, given):
        """Given labels (checked, (n, n_given)) scaled as the training ones."""
        return (given - self.given_offset) / self.given_scale

    def part(self, X, positions, target, device):
        """``(inputs, targets)`` of the rows at ``positions``: their batches and ``target[positions]``
        (``target``: a tensor aligned with ``rows``, on ``device``)."""
        return self.batches(X, positions, device), target[torch.as_tensor(positions, device=device)]


def input_scaling(X, rows, how):
    """``(mean, offset, scale)`` of every input over ``rows`` (one chunked pass; X may be a memory map)."""
    mean, std = column_moments(X, rows)
    if how == "none":
        return mean, np.zeros(X.shape[1]), np.ones(X.shape[1])
    scale = np.ones(X.shape[1])
    if how == "standard":
        scale = np.where(std > 0, std, 1.0)
    return mean, mean.copy(), scale


def standard_scaling(values):
    """``(mean, std)`` of every column, a zero spread replaced by 1."""
    std = values.std(axis=0)
    return values.mean(axis=0), np.where(std > 0, std, 1.0)


def split(n_samples, fraction, seed, y=None, name="estimator"):
    """Positions of the training and validation parts (seeded, shuffled) and whether stratified by ``y``.

    With class labels ``y`` the split is stratified (every class keeps its
    share in both parts) when each class has at least two samples and the
    validation part has room for every class; otherwise it is random.
    """
    n_val = int(round(fraction * n_samples))
    if fraction > 0 and n_val < 1:
        raise ParameterError(
            "validation_fraction",
            f"{fraction} of {n_samples} samples leaves no validation sample; "
            "give more samples or set validation_fraction=0",
        )
    if n_samples - n_val < 2:
        raise ParameterError(
            "validation_fraction",
            f"{fraction} of {n_samples} samples leaves {n_samples - n_val} for training; at least 2 are needed",
        )
    if y is not None and n_val > 0:
        counts = np.unique(y, return_counts=True)[1]
        if counts.min() >= 2 and len(counts) <= min(n_val, n_samples - n_val):
            train_index, val_index = train_test_split(np.arange(n_samples), test_size=n_val, random_state=seed,
                                                      stratify=y)
            return train_index, val_index, True
        logger.info(
            "%s: validation split not stratified (a class has %d sample(s), or %d validation samples "
            "for %d classes); split at random", name, counts.min(), n_val, len(counts),
        )
    order = np.random.default_rng(seed).permutation(n_samples)
    return order[n_val:], order[:n_val], False


def prepare(estimator, X, rows, given, seed, strata=None):
    """The :class:`Preparation` of ``estimator`` (its scaling and validation fraction) on ``X[rows]``.

    ``given``: checked (n_samples, n_given) float labels aligned with ``X``,
    or None; ``strata``: class labels of ``rows`` for a stratified split.
    Validation rows are held out only for early stopping, which is what they
    are for: without it every row trains.
    """
    mean, offset, scale = input_scaling(X, rows, estimator.input_scaling)
    given_offset, given_scale = (np.empty(0), np.empty(0)) if given is None else standard_scaling(given[rows])
    fraction = estimator.validation_fraction if estimator.early_stopping else 0.0
    train_pos, val_pos, stratified = split(len(rows), fraction, seed, strata, type(estimator).__name__)
    prep = Preparation(rows, train_pos, val_pos, stratified, mean, offset, scale, given_offset, given_scale)
    prep.given = None if given is None else prep.scale_given(given)
    return prep
