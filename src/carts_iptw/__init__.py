"""carts_iptw: IPTW cohort studies in Python, every number proven equal to R.

Public functions keep R's names in snake_case; each docstring names its R twin.
"""

__version__ = "0.1.0"
