"""Parity harness: every Python statistic checked against R (live via rpy2, or its snapshot)."""
