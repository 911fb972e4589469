"""Training the built-in neural model (needs the ``[train]`` extra: torch).

``python -m arzip.train.corpus DIR`` rebuilds the shipped model's corpus;
``arzip train FILES... -o model.arzm`` trains (``arzip.train.trainer``).
"""
