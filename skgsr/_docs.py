"""Docstring sections shared by the estimators (numpydoc).

The estimators take the same hyperparameters and expose the same fitted
attributes; their docstrings are assembled from these sections so that the
text is written once.
"""

__all__ = ["COMMON_PARAMETERS", "FITTED_ATTRIBUTES"]

COMMON_PARAMETERS = """
    n_components : int, default=64
        Width of the structured layer: one neuron per node of the graph.
    hidden_layer_sizes : array-like of int, default=(128,)
        Widths of the hidden layers between the input and the structured layer
        (mirrored in the autoencoder's decoder).
    encoder : torch.nn.Module class or callable, default=None
        A network of your own from the input to the structured layer:
        ``encoder(n_features)`` must return a :class:`torch.nn.Module` mapping
        float32 inputs of shape ``(batch, n_features)`` to ``(batch, width)``
        (end a convolutional encoder with ``nn.Flatten()``). ``width`` is read
        from a forward pass of a batch of zeros, and the structured layer
        (``Linear(width, n_components)`` and ``embedding_activation``) follows.
        None: an MLP through ``hidden_layer_sizes`` with ``activation``. An
        encoder replaces that MLP, so ``hidden_layer_sizes`` is then ignored by
        the encoder (the autoencoder's decoder still runs through
        ``reversed(hidden_layer_sizes)``), and the encoder keeps its own
        initialization (the estimators' layers start Glorot-uniform). Pass a
        class or a module-level function, not an instance (each fit builds its
        own network), nor a lambda if the estimator is to be pickled.
        :func:`skgsr.save` stores the encoder's weights but not its code:
        :func:`skgsr.load` takes ``encoder=`` to rebuild it (see
        :ref:`networks`).
    graph : str, array-like, scipy sparse matrix or networkx.Graph, default="grid"
        The graph over the structured neurons: a name of
        :func:`skgsr.graphs.make_graph` (``"grid"``, ``"torus"``, ``"line"``,
        ``"ring"``, ``"lines"``, ``"rings"``, ``"tree"``, ``"star"``,
        ``"ladder"``, ``"capsules"``), ``"learned"`` (built from the neurons'
        co-activations during training), or an ``n_components x n_components``
        adjacency.
    graph_shape : tuple of int, default=None
        ``(h, w)`` layout of the graph (see :func:`skgsr.graphs.make_graph`);
        ``h * w`` must equal ``n_components``. None infers it (the most square grid
        for ``"grid"`` and ``"torus"``).
    filter : {"laplacian", "rayleigh", "heat", "wavelet", "mexican_hat", \
"topographic"} or callable, default="rayleigh"
        The graph filter of the penalty (see :class:`skgsr.penalty.GraphPenalty`;
        ``"topographic"`` is :class:`skgsr.penalty.TopographicPenalty`, a penalty
        of the batch's correlations that places units that vary together near
        each other and units that vary oppositely far apart: the one that makes
        ``graph="tree"`` reflect hierarchical clusters, see :ref:`filters`).
        The default, with ``filter_center="auto"``, is the centred Rayleigh
        quotient: scale-free, so the layer cannot lower it by shrinking, and the
        same ``alpha`` holds on scaled and unscaled data (see :ref:`gsr`).
        ``filter="laplacian", scale_alpha=False`` is the papers' raw penalty
        :math:`\\alpha\\, \\mathrm{mean}_b\\, x_b^T L x_b`.
        With ``graph="learned"`` and ``learned_objective="smooth"`` prefer
        ``filter="laplacian"``: it recovered modules of features far better
        there (:ref:`learned_graph`); the default ``learned_objective`` does
        not use the filter.
    alpha : float, default=0.1
        Strength of the graph penalty; 0 trains an unregularized network. With
        the default filter, 0.1 costs at most a point or two of accuracy and
        makes the layer clearly smoother; 1 is strong, 0.01 mild. With
        ``graph="learned"`` start from 0.01: on held-out module data it read the
        modules as well as the best of {0.01, 0.1, 1} on every family, at about
        the plain network's reconstruction error, where 0.1 lost some families
        or cost more error (:ref:`learned_graph_profile`).
    scale_alpha : bool, default=True
        Weigh the penalty in the task loss's own unit: the loss is
        ``task_loss + alpha * loss_scale_ * penalty``, with ``loss_scale_`` the
        task loss of the best constant prediction (the mean variance of the
        targets for the regressor, of the features for the autoencoder, 1 for the
        classifier's cross-entropy). Rescaling ``X`` or ``y`` then leaves the
        trade-off ``alpha`` stands for unchanged. False: ``alpha`` multiplies the
        raw penalty, as in the papers.
    laplacian : {"auto", "combinatorial", "normalized"}, default="auto"
        Laplacian of the penalty. ``"auto"``: combinatorial ``D - A`` for
        predefined and given graphs, normalized for ``graph="learned"``.
    filter_scale : float or array-like of float, default=None
        Diffusion time of ``"heat"``, scale(s) of ``"wavelet"`` and
        ``"mexican_hat"``; None derives them from the largest Laplacian
        eigenvalue.
    filter_method : {"auto", "exact", "chebyshev"}, default="auto"
        How the spectral filters apply ``g(L)``: by an eigendecomposition, or by
        a Chebyshev polynomial (sparse products). ``"auto"``: exact up to 1024
        neurons, Chebyshev above; on a learned graph, which a rebuild would
        decompose anew, Chebyshev above 512 neurons for ``"heat"`` and
        callables (the L1 filters stay exact up to 1024). A learned graph that
        is decomposed is decomposed in float32 (half the time; the penalty
        trains in float32), any other graph in float64.
    filter_order : int, default=30
        Degree of the Chebyshev approximation.
    filter_center : bool or "auto", default="auto"
        Centre each sample's activations over the neurons before the filter
        (:class:`skgsr.penalty.GraphPenalty` ``center``): with
        ``filter="rayleigh"`` this is the centred, scale-free Rayleigh quotient,
        blind to a common offset of all neurons. ``"auto"``: True for
        ``filter="rayleigh"``, False for every other filter (whose penalties are
        then the papers').
    n_neighbors : int or "auto", default="auto"
        Neighbours per neuron in the learned graph. ``"auto"``: a sixth of the
        structured layer, ``round(n_components / 6)`` within ``[2, n_components
        - 1]`` (5 at 32 neurons, 11 at 64), so that a neighbourhood is about one
        of six modules of neurons; with a fixed number, a wide layer splits into
        many small clusters (see :ref:`learned_graph`).
    graph_warmup : int, default=10
        Epochs trained without penalty before the first learned graph.
    graph_update_interval : int, default=5
        Epochs between two rebuilds of the learned graph: a graph is built before
        epoch ``graph_warmup`` (counting from 0) and every
        ``graph_update_interval`` epochs after. Epochs are counted over
        ``warm_start`` fits and ``partial_fit`` calls (one call is one epoch), so
        a continued fit continues the schedule.
    graph_n_samples : int, default=1000
        Training samples encoded to build the learned graph (all of them when
        there are fewer). ``partial_fit`` encodes rows of the X of the call that
        triggers a rebuild, so chunks smaller than ``graph_n_samples`` give a
        noisier graph.
    graph_kernel : {"auto", "similarity", "gaussian", "binary"}, default="auto"
        Edge weights of the learned kNN graph: the (partial) correlation itself
        where it is positive, a Gaussian kernel with adaptive bandwidth, or unit
        weights (see :func:`skgsr.graphs.coactivation_graph`). ``"auto"``:
        ``"similarity"`` for ``graph_metric="partial_correlation"``,
        ``"gaussian"`` for the other metrics.
    graph_metric : {"input_profile", "correlation", "partial_correlation", \
"cosine", "euclidean"}, default="input_profile"
        Distance between neurons in the learned graph. ``"input_profile"``
        (the default) joins neurons that read the same inputs: each neuron is
        the vector of its squared correlations with the input features over
        the encoded rows, compared by correlation, so that neurons of two
        modules whose activities correlate stay apart (the user guide's
        :ref:`learned_graph_profile`). ``"correlation"`` (the co-activation
        graph, the default before) joins
        neurons whose activations rise and fall together whatever their offset
        and scale; ``"partial_correlation"`` those that still do given all the
        other neurons, which keeps apart neurons of modules whose activities
        are correlated, on layers much narrower than ``graph_n_samples`` (see
        :func:`skgsr.graphs.coactivation_graph`, and the user guide's
        :ref:`learned_graph_partial` for when it helps and when it hurts).
    learned_objective : {"modules", "smooth"}, default="modules"
        What the structured layer is trained with on a learned graph (other
        graphs ignore it). ``"modules"``: neurons more than 2 edges apart in the
        learned graph are decorrelated, each neuron is drawn to correlate with
        one group of input features, and no group is left to one or two neurons
        (batch correlations with ``X``, scale-free; the ``filter`` parameters do
        not apply). ``"smooth"``: the papers' recipe, the ``filter`` penalty on
        the learned graph's Laplacian, which makes neighbouring neurons alike
        (and finds modules in data without any; with ``n_neighbors=5`` it is
        the earlier default). :ref:`learned_graph` has the formulas and the
        study behind the choice.
    activation : str, default="relu"
        Activation of the hidden layers: ``"relu"``, ``"tanh"``, ``"logistic"``,
        ``"identity"``, ``"leaky_relu"``, ``"elu"``, ``"gelu"``, ``"softplus"``.
    embedding_activation : str, default="auto"
        Activation of the structured layer; ``"auto"`` is ``"identity"`` for the
        autoencoder and ``activation`` for the supervised estimators.
    solver : {"adam", "adamw", "sgd"}, default="adam"
        Optimizer (``"sgd"`` with Nesterov momentum 0.9).
    learning_rate_init : float, default=1e-3
        Learning rate.
    batch_size : int or "auto", default="auto"
        Minibatch size; ``"auto"`` is ``min(200, n_samples)``.
    max_iter : int, default=500
        Maximum number of epochs. Most fits stop earlier, by ``tol`` and
        ``n_iter_no_change`` (scikit-learn's MLP rule); the graph penalty slows
        that convergence (on small data sets the default penalty needs 190-420
        epochs where ``alpha=0`` needs 110-160), hence a larger limit than
        :class:`~sklearn.neural_network.MLPClassifier`'s 200.
    tol : float, default=1e-4
        Minimum improvement of the training loss (or of the validation score with
        ``early_stopping``) that resets the patience counter. With
        ``graph="learned"`` the loss judged is the task loss alone: the
        penalty changes with each rebuild of the graph, so the objective is not
        comparable from one rebuild to the next (stopped on it, a fit ended while
        its reconstruction was still improving).
    n_iter_no_change : int, default=10
        Epochs without improvement by ``tol`` before training stops. After a
        learned graph's warm-up, as many penalized epochs first settle: they
        are neither judged nor kept as the best (the network leaves the
        warm-up's optimum, and the first of them is barely penalized).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, stop when its score
        stops improving, and keep the best weights.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    weight_decay : float, default=0.0
        L2 penalty on the weights (the optimizer's weight decay).
    warm_start : bool, default=False
        Continue from the previous fit's weights instead of starting anew.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the shuffling and the validation split; the same value
        gives identical results on the same machine.
    verbose : int, default=0
        1 shows a progress bar with the loss, the penalty and the time left
        (tqdm's when installed, in notebooks too; a few plain lines otherwise),
        then a summary line; 2 prints a table of every epoch (loss, task loss,
        penalty, validation score, time, learned-graph rebuilds) and the
        summary.
    device : str, default="auto"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when available).
    compile : bool, default=False
        Train with the network compiled by :func:`torch.compile` (the
        penalty's gradient then goes through autograd). Compiling takes
        seconds at the start of a fit (about 5 s for the first fit of a
        process on a 2-core CPU), and on a CPU the compiled training was
        slower than the plain one even after it (1.36x at 64 structured
        neurons, 1.13x at 1024; ``benchmarks/README.rst``, "Fit speed"). It
        is unmeasured on CUDA, where it may pay. Results differ from the
        uncompiled ones in float32 rounding (another order of operations).
"""

FITTED_ATTRIBUTES = """
    feature_graph_ : scipy.sparse.csr_array of shape (n_components, n_components)
        The graph over the structured neurons: the predefined or given graph, or
        the learned one at the end of fit.
    laplacian_ : scipy.sparse.csr_array of shape (n_components, n_components)
        Laplacian of ``feature_graph_`` used by the penalty.
    graph_shape_ : tuple of int
        ``(h, w)`` layout of the structured layer (``h * w == n_components``), to
        reshape activations into maps.
    module_ : torch.nn.Module
        The trained network (``encoder``, ``structured``, ``head``).
    penalty_ : skgsr.penalty.GraphPenalty
        The graph penalty on the structured layer (with a learned graph and
        ``learned_objective="modules"``, the ``filter`` penalty on the learned
        graph, which holds its Laplacian but is not what was trained).
    loss_curve_ : list of float
        Training objective (task loss + ``alpha`` x penalty) per epoch.
    penalty_curve_ : list of float
        Graph penalty (without ``alpha``) of the structured layer per epoch,
        ``learned_objective="modules"``'s objective with a learned graph;
        NaN while a learned graph is warming up. The mean over the epoch's
        batches; with ``alpha=0`` (measured, not trained on) the mean over about
        8 batches spread over the epoch (fewer on a wide layer: at most about
        4 million activations, and at least one batch), which spares a wide
        layer's fit a penalty pass per batch.
    graph_history_ : list of scipy.sparse.csr_array
        With ``graph="learned"``: the learned graphs in the order they were
        built (the last 50), to watch the structure form;
        ``graph_history_[-1]`` is ``feature_graph_`` unless early stopping
        restored the graph of an earlier epoch.
    graph_history_epochs_ : list of int
        With ``graph="learned"``: for each graph of ``graph_history_``, the number
        of epochs trained before it was built.
    graph_modularity_ : float
        With ``graph="learned"``: how modular ``feature_graph_`` is, Newman's
        modularity of its best spectral split into 2-10 clusters
        (:func:`skgsr.metrics.graph_modularity`, ``random_state=0``; NaN below
        3 neurons). It needs no known modules; a kNN graph without structure
        scores 0.3-0.4 too, so compare it with the same model fitted at
        ``alpha=0`` or on shuffled data
        (:func:`skgsr.metrics.shuffled_modularity`, :ref:`learned_graph`).
    inactive_neurons_ : ndarray of int
        With ``graph="learned"``: the structured neurons whose activation did not
        vary over the samples encoded for the last graph (dead units, see
        :func:`skgsr.graphs.inactive_neurons`); they are isolated nodes of
        ``feature_graph_``, and a warning names them when they are a tenth of
        the layer or more (a few dead ReLUs are common and change little).
    graph_input_weights_ : ndarray of shape (n_inputs,) or None
        With ``graph="learned"`` and ``learned_objective="modules"``: the share
        of the neurons' attention each (flattened) input should draw, the
        target of the objective's coverage term, from the inputs'
        communalities over the rows of the first graph
        (:func:`skgsr.nn.input_communalities`): equal for the inputs that
        share at least half as much as the most shared one, smaller for the
        others, so that inputs that share nothing with the others (noise) are
        not given neurons of their own; then divided by the size of each
        input's module (the inputs that move with it), so that a module of 3
        inputs draws as many neurons as one of 30; at least 0.05 of the
        smallest share of a fully shared input. Summing to 1; None until the
        first graph.
    validation_scores_ : list of float or None
        Validation score per epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
        Best validation score with ``early_stopping``, else None.
    history_ : list of dict
        Per epoch: ``epoch``, ``loss``, ``task_loss``, ``penalty``,
        ``validation_score``, ``duration``; with ``graph="learned"`` also
        ``graph_updated`` (a graph was built before this epoch) and
        ``graph_duration`` (seconds spent building it).
    n_iter_ : int
        Epochs run.
    loss_scale_ : float
        The task loss of the best constant prediction on the training data,
        the unit the penalty is weighed in with ``scale_alpha=True`` (1 for the
        classifier; from the first call of ``partial_fit``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.
"""
