"""carts_iptw: IPTW cohort studies in Python, every number proven equal to R.

Public functions keep R's names in snake_case; each docstring names its R twin (see the README's
table). Exports are loaded on first use (PEP 562), so ``import carts_iptw`` stays fast and a
command-line run pays only for what it calls.
"""

import importlib as _importlib

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "ate": "carts_iptw.effects",
    "avg_comparisons": "carts_iptw.effects",
    "bal_tab": "carts_iptw.balance",
    "bal_tab_mi": "carts_iptw.imputation",
    "balance_chunked": "carts_iptw.resampling",
    "bootstrap": "carts_iptw.resampling",
    "CartsIptwDeprecationWarning": "carts_iptw.families",
    "CartsIptwWarning": "carts_iptw.families",
    "chisq_test": "carts_iptw.design",
    "CohortValidationError": "carts_iptw.study.cohort",
    "cox_zph": "carts_iptw.survival",
    "ConvergenceWarning": "carts_iptw.families",
    "CoxControl": "carts_iptw.survival",
    "coxph": "carts_iptw.survival",
    "cuminc_plot": "carts_iptw.survival",
    "detect_separation": "carts_iptw.separation",
    "evalue": "carts_iptw.effects",
    "finegray": "carts_iptw.survival",
    "finegray_coxph": "carts_iptw.survival",
    "fisher_test": "carts_iptw.design",
    "forest_plot": "carts_iptw.survival",
    "get_w_from_ps": "carts_iptw.weighting",
    "glm": "carts_iptw.glm_model",
    "glm_fit": "carts_iptw.irls",
    "glm_robust": "carts_iptw.design",
    "glm_weightit": "carts_iptw.design",
    "GlmControl": "carts_iptw.irls",
    "GlmWarning": "carts_iptw.families",
    "km_plot": "carts_iptw.survival",
    "load_dataset": "carts_iptw.datasets",
    "load_synthetic_cohort": "carts_iptw.study.synthetic",
    "logistf": "carts_iptw.design",
    "love_plot": "carts_iptw.balance",
    "mice": "carts_iptw.imputation",
    "model_frame": "carts_iptw.formula",
    "overlap_plot": "carts_iptw.balance",
    "pool": "carts_iptw.imputation",
    "pool_scalar": "carts_iptw.imputation",
    "read_cohort": "carts_iptw.study.cohort",
    "rmst_difference": "carts_iptw.effects",
    "run_demo": "carts_iptw.study.pipeline",
    "run_study": "carts_iptw.study.pipeline",
    "sensitivity_grid": "carts_iptw.resampling",
    "simulate_cohort": "carts_iptw.study.synthetic",
    "subgroup_effects": "carts_iptw.effects",
    "survdiff": "carts_iptw.survival",
    "survfit": "carts_iptw.survival",
    "survfit_by_stratum": "carts_iptw.resampling",
    "survfit_difference": "carts_iptw.effects",
    "svyby": "carts_iptw.design",
    "svychisq": "carts_iptw.design",
    "svycoxph": "carts_iptw.survival",
    "svydesign": "carts_iptw.design",
    "svyglm": "carts_iptw.design",
    "svykm": "carts_iptw.survival",
    "svylogrank": "carts_iptw.survival",
    "svymean": "carts_iptw.design",
    "svyquantile": "carts_iptw.design",
    "svyranktest": "carts_iptw.design",
    "svytotal": "carts_iptw.design",
    "svyttest": "carts_iptw.design",
    "table_one": "carts_iptw.balance.table_one",
    "table_one_chunked": "carts_iptw.resampling",
    "trim": "carts_iptw.weighting",
    "validate_cohort": "carts_iptw.study.cohort",
    "weightit": "carts_iptw.weighting",
    "weightit_mi": "carts_iptw.imputation",
    "wilcox_test": "carts_iptw.design",
    "with_imputations": "carts_iptw.imputation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'carts_iptw' has no attribute {name!r}") from None
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    # exactly the public API: no helper names, and no submodule that an import bound here
    return sorted([*__all__, "__version__"])
