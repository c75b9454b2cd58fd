"""Export a trained system in a challenge's submission form.

:func:`ascbench.export.dcase2025.export_package` writes the DCASE 2025 inference package
(``load_model``, ``load_inputs``, ``get_model_for_device``, ``predict``) of one finished run
entry; :mod:`ascbench.export.inference` is the code such a package calls at inference time.
"""
