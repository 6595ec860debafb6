"""The study layer: cohort schema, eligibility, SYNTHETIC example cohort, spec, pipeline."""
