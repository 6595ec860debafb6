"""The study report: self-contained HTML (figures embedded) and CSV tables."""
