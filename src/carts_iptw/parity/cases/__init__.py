"""Parity cases, one module per area; every module here is imported by ``all_cases()``."""
