"""Inference: what every benchmark task consumes from a model.

- :mod:`~utrbench.infer.embeddings`: pooled and per-nucleotide embeddings (token-budget batches,
  overlapping windows for long sequences, layer selection, bf16 on CUDA);
- :mod:`~utrbench.infer.zeroshot`: per-nucleotide A/C/G/T probabilities for every tokenizer kind,
  strategies ``exact``, ``strided:S`` and ``unmasked``, both strands;
- :mod:`~utrbench.infer.baselines`: PhyloP and CADD in the same per-nucleotide layout;
- :mod:`~utrbench.infer.windows`: windows, token-budget batches and shared tensor helpers;
- :mod:`~utrbench.infer.records`: FASTA records (streamed) and their species ids;
- :mod:`~utrbench.infer.shards`: blocks of records, shards of a FASTA and the merge of their results;
"""
