"""The parameter and attribute descriptions the two estimators share (their docstrings are built from them).

Each block is a run of numpydoc entries, indented as in a class docstring.
"""

PARAMETERS_NETWORK = """\
    hidden_layer_sizes : int or sequence of int, default=(100, 100, 50)
        Widths of the hidden layers, whole numbers >= 1; the first is the
        output of the spectral layer (the paper's 100-100-50).
    activation : {"relu", "tanh", "elu", "gelu", "sigmoid", "identity"}, default="relu"
        Activation after every hidden layer.
    eigenvalue_penalty : float or None, default=None
        ``c_lambda``: the strength of the eigenvalue penalty (see
        ``penalty``). None: 1e-2 for ``"l2"`` (the paper's) and
        ``"group"``, 3e-3 for ``"l1"``, whose strength is on the scale of
        a data-loss gradient
        (:data:`~stellar_relevance.nn.proximal.DEFAULT_STRENGTHS`).
    eigenvector_penalty : float, default=1e-4
        ``c_psi`` in ``c_psi * sum(psi**2)``.
    penalty : {"l2", "l1", "group"}, default="l2"
        The eigenvalue penalty. ``"l2"``: the paper's ``c_lambda *
        sum(lambda**2)`` (Adam's weight decay); it shrinks irrelevant
        eigenvalues but never to exactly zero. ``"l1"``: ``c_lambda *
        sum(|lambda|)``; ``"group"``: ``c_lambda * sum_i ||W[:, i]||``.
        Both are applied as a proximal step in Adam's metric after every
        optimiser step and set eigenvalues exactly to zero (``support_``):
        an input stays switched off while the running mean of its
        data-loss gradient (of ``lambda_i``; of column ``W[:, i]`` for
        ``"group"``) is smaller than ``c_lambda``, whatever the number of
        steps (docs/method.md, "Penalties").
    learning_rate : float, default=1e-3
        Adam's step size.
    max_epochs : int, default=200
        Most passes over the training data.
    batch_size : int, default=500
        Samples per mini-batch (at most the number of training samples).
    validation_fraction : float, default=0.1
        Share of the training data held out (seeded) for early stopping;
        without ``early_stopping`` nothing is held out and every row trains.
"""

PARAMETERS_STOPPING = """\
    early_stopping : bool, default=False
        Keep the weights of the best validation epoch (at or after
        ``min_epochs``) and stop after ``n_iter_no_change`` epochs without
        improvement. Off by default: the relevance is read at the end of
        training, as in the paper, and it becomes sparse long after the
        validation loss stops improving (restoring an early checkpoint hands
        back a dense, uninformative relevance; docs/synthetic.md).
    n_iter_no_change : int, default=50
        Epochs without improvement of the validation loss before stopping
        (with ``early_stopping``).
    min_epochs : int, default=0
        Epochs before any checkpoint or stop: gives the penalty time to make
        the relevance sparse.
"""

PARAMETER_INPUT_SCALING = """\
    input_scaling : {"center", "standard", "none"}, default="center"
        See the module docstring for what each does to the meaning of
        relevance.
"""

PARAMETERS_RUN = """\
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the network trains ("auto": CUDA when torch sees a GPU). The
        network must fit in the memory free there; a larger one is refused
        with a :class:`~stellar_relevance.exceptions.ParameterError` naming
        ``hidden_layer_sizes`` before anything is allocated.
    n_threads : int or None, default=None
        torch threads while fitting and predicting on the CPU. None leaves
        torch's own setting (one thread per core): on an idle 2-core machine
        a MILES-sized fit (4300 inputs) is 1.3x faster with 2 threads than
        with 1, and small networks are no slower (docs/scale.md). On a
        machine shared with other jobs, 1 can be faster.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the validation split and the batch order
        (through :func:`sklearn.utils.check_random_state`). Pass an int for
        reproducible results. The caller's torch random streams (CPU and
        CUDA) are left as they were.
    verbose : int, default=0
        1 or more shows a tqdm bar over epochs with the losses.
"""

ATTRIBUTES_RELEVANCE = """\
    relevance_ : ndarray of shape (n_features,)
        ``|lambda_i| * ||psi[:, i]||_2`` at the end of training.
    signed_relevance_ : ndarray of shape (n_features,)
        The same with the sign of the eigenvalue.
    feature_importances_ : ndarray of shape (n_features,)
        ``relevance_`` normalised to sum to one.
    ranking_ : ndarray of shape (n_features,)
        Feature indices, most relevant first (ties keep feature order).
    eigenvalues_ : ndarray of shape (n_features,)
        The first layer's eigenvalues ``lambda``.
    support_ : ndarray of bool, shape (n_features,)
        Inputs whose eigenvalue is not zero: the others contribute nothing
        to any prediction (with ``penalty="l1"`` or ``"group"``, or after
        :meth:`select`).
    n_selected_ : int
        ``support_.sum()``.
    n_given_ : int
        Number of given label columns fitted with (0 without).
    given_offset_, given_scale_ : ndarray of shape (n_given_,)
        What is subtracted from, and then divided into, each given column.
    network_ : SpectralNetwork
        The trained network.
    history_ : list of dict
        Per-epoch records (see :class:`stellar_relevance.nn.training.TrainingResult`).
    best_epoch_, n_epochs_ : int
        The epoch whose weights are kept, and the last epoch run.
    n_train_samples_, n_validation_samples_ : int
        Sizes of the two parts of the training data.
"""

ATTRIBUTES_INPUTS = """\
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when fitted on a DataFrame with string column names.
    feature_means_ : ndarray of shape (n_features,)
        Training mean of each feature: the neutral value of a masked feature.
    input_offset_, input_scale_ : ndarray of shape (n_features,)
        What is subtracted from, and then divided into, each feature.
"""
