"""utrbench: benchmark DNA foundation models on 3'UTR biology and gene expression.

The package holds all logic; the scripts in ``bin/`` are thin click entry points
around it (see ``utrbench.cli``).
"""

__version__ = "0.1.0"
