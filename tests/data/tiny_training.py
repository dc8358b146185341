"""A minimal masked-LM loop for tests and benchmarks that need a tiny model to know a planted signal.

Shorter than the project's Trainer (no recipe, shards or checkpoints) but with its collator
(:func:`utrbench.train.masking.mask_batch`: the family's masking at 15 %), AdamW at a fixed rate.
"""

import torch

from utrbench.infer.windows import pad_rows
from utrbench.train.masking import mask_batch


def train_on_batches(loaded, batches, rng, lr=3e-3) -> float:
    """Train ``loaded`` in place on each list of sequences ``batches`` yields; returns the last loss."""
    model, tokenizer = loaded.model, loaded.tokenizer
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    loss = None
    with torch.enable_grad():
        for sequences in batches:
            ids = pad_rows([tokenizer.encode(s).ids for s in sequences], tokenizer.pad_id, "cpu")
            attention = ids != tokenizer.pad_id
            inputs, labels = mask_batch(ids, attention, tokenizer, loaded.family.tokenization, rng)
            species = torch.zeros(len(sequences), dtype=torch.long)
            loss = model(inputs, attention, species, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    return float(loss.detach())
