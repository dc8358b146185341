#!/usr/bin/env python3
"""Write a randomly initialised model directory for a family and a named size."""

import click

from utrbench.cli import command


@command()
@click.option("--family", required=True, help="Model family, e.g. dnabert2 (an unknown name lists the families).")
@click.option("--size", default="tiny", show_default=True, help="Named size: tiny (tests) or base (published).")
@click.option("--out", "out", required=True, type=click.Path(), help="Model directory to create.")
@click.option("--seed", default=0, show_default=True, help="Seed of the random initialisation.")
@click.option("--species", type=click.Path(), help="Species list, one per line (species-aware families).")
def main(family, size, out, seed, species):
    from utrbench.models import init_model, read_species_file, save_model

    names = read_species_file(species) if species else []
    loaded = init_model(family, size=size, seed=seed, species=names)
    save_model(loaded, out)
    parameters = sum(p.numel() for p in loaded.model.parameters())
    click.echo(f"{family}/{size}: {parameters:,} parameters -> {out}", err=True)


if __name__ == "__main__":
    main()
