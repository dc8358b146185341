"""Benchmark tasks on embeddings and probabilities.

- :mod:`~utrbench.tasks.targets`: the regression target table ``id sequence target group`` shared
  by tasks 3 and 4 (read, validate, write with its FASTA).
- :mod:`~utrbench.tasks.mpra`: task 3, readers of the published MPRA tables (Siegel 2022, its
  Saluki ``fastUTR_mpra`` merge, Griesemer 2021, any named-column table) and the grouping of
  near-identical oligos.
- :mod:`~utrbench.tasks.halflife`: task 4, the Agarwal & Kelley half-life table with its ten folds,
  joined to 3'UTR sequences by gene id.
- :mod:`~utrbench.tasks.features`: sequence-feature baselines written as embeddings (k-mer spectra,
  the minimal MPRA features), so regression treats them like any model.
- :mod:`~utrbench.tasks.regression`: grouped cross-validated Ridge / SVR, pooled out-of-fold
  Pearson r with the study's Fisher interval (or a bootstrap one).
"""
