"""Gene expression from promoter sequence: DExTER against fine-tuned language models (reference note 02).

- :mod:`~utrbench.expression.dataset`: TSS windows from a GTF and a genome, GTEx labels, DExTER's split.
- :mod:`~utrbench.expression.labels`: reading the windows FASTA and labels TSV back, joined by gene.
- :mod:`~utrbench.expression.dexter`: DExTER (bins, regions, greedy k-mer x region search, LassoCV), vectorised.
- :mod:`~utrbench.expression.finetune`: regression head and fine-tuning loop for any registered model family.
- :mod:`~utrbench.expression.compare`: metrics with paired bootstrap intervals, scatter plots, summary.
"""
