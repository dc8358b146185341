"""Masked-language-model pretraining of the registered model families.

- :mod:`~utrbench.train.recipe`: recipe JSON files (``conf/recipes/<family>_<size>.json``), validated.
- :mod:`~utrbench.train.data`: FASTA shards streamed with pysam, ``utr_id:species`` headers, random
  crops to the context, shift augmentation, token-budget batches, resumable data positions, rank
  sharding (record i goes to rank i mod world).
- :mod:`~utrbench.train.masking`: the corruption each ``Family.tokenization`` needs (k-mer spans,
  15 % tokens, exact nucleotide positions) with 80/10/10 replacement.
- :mod:`~utrbench.train.schedules`: AdamW and the study's schedules (linear, cyclic, inverse sqrt).
- :mod:`~utrbench.train.trainer`: the loop (gradient accumulation, bf16 autocast on CUDA, DDP under
  torchrun), validation, the TSV log, atomic checkpoints and exact resume.
- :mod:`~utrbench.train.selection`: the checkpoint later steps use (plateau rule or validation loss).
"""
