"""The built-in neural model: a byte-level network with integer-exact inference.

``features`` (what the network sees), ``network`` (int8 inference), ``modelfile``
(the ``.arzm`` file), ``shipped`` (the model inside the package).
"""
