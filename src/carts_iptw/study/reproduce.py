"""``reproduce.R``: the study written out in R, generated from the spec, beside every run's results.

:func:`generate_r_script` turns a :class:`~carts_iptw.study.spec.StudySpec` (and the run's
results, which say where Python fell back to a method R cannot reproduce here) into one readable R
script: ``library()`` calls, the cohort read and typed as the schema says, the spec's derived
columns and eligibility rules pasted as the R they already are, then one commented block per
results section in the report's order, each calling R's own functions (``weightit()``,
``bal.tab()``, ``svydesign()``, ``svyglm()``, ``svyquantile()``, ``svychisq()``,
``svyranktest()``, ``survfit()``, ``svylogrank()``, ``coxph()``, ``avg_comparisons()``). The
script writes ``results_R.json`` with the keys of :func:`carts_iptw.study.verify.quantities`
(results.json with its lists keyed by name), and :mod:`carts_iptw.study.verify` compares them.

The script does not load carts_iptw; it states the R and package versions it was written for.
It is the one generator of the study in R: the end-to-end parity cases of the study run it too.
"""

from __future__ import annotations

import json
import re

from carts_iptw.study.spec import Outcome, StudySpec

#: the R and package versions the generated script was written for (the parity environment)
R_VERSIONS = {"R": "4.2.2", "WeightIt": "1.5.1", "cobalt": "4.6.1", "survey": "4.1.1",
              "survival": "3.5.3", "marginaleffects": "0.22.0", "jsonlite": "1.8.4"}

#: packages the script loads (verify checks each is installed before it runs the script)
R_PACKAGES = ("WeightIt", "cobalt", "survey", "survival", "marginaleffects", "jsonlite")

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._]*$")


def rstr(s: str) -> str:
    """An R string literal."""
    return json.dumps(str(s), ensure_ascii=False)


def rname(s: str) -> str:
    """A name usable on the left of ``=`` in ``list(...)`` (backquoted when not syntactic)."""
    return s if _NAME.match(s) and s not in ("function", "if", "else", "TRUE", "FALSE", "NA",
                                             "NULL", "in", "for", "while") else f"`{s}`"


def rnum(x: float) -> str:
    """A number as R reads it back exactly."""
    return repr(float(x)) if not float(x).is_integer() else f"{int(x)}"


def rvec(items, quote: bool = True) -> str:
    """``c(...)`` of strings (or bare words)."""
    return "c(" + ", ".join(rstr(i) if quote else str(i) for i in items) + ")"


def _header(title: str) -> str:
    return f"\n# ---- {title} " + "-" * max(3, 92 - len(title)) + "\n"


def _rhs(terms) -> str:
    return " + ".join(terms)


class _Names:
    """The R names of the columns the script adds (the spec's names, never a clash)."""

    def __init__(self, taken):
        self.taken = set(taken)

    def new(self, want: str) -> str:
        name, k = want, 2
        while name in self.taken:
            name = f"{want}_{k}"
            k += 1
        self.taken.add(name)
        return name


HELPERS = r'''
# ---- helpers: the numbers of one fit, named as in results.json --------------------------------
quartiles <- function(x) {                      # stats::quantile, type 7 (R's default)
  q <- unname(quantile(x, c(0.25, 0.5, 0.75)))
  list(q1 = q[1], median = q[2], q3 = q[3])
}
weighted_quartiles <- function(formula, design) {  # survey::svyquantile, qrule "math"
  q <- unname(coef(svyquantile(formula, design, c(0.25, 0.5, 0.75), ci = FALSE)))
  list(q1 = q[1], median = q[2], q3 = q[3])
}
# unweighted test of a categorical row: chisq.test (Yates for 2x2), Fisher when an expected
# count is below 5; NA for a variable that is constant in the cohort
categorical_test <- function(x, treatment) {
  tab <- table(x, treatment)
  tab <- tab[rowSums(tab) > 0, , drop = FALSE]
  if (nrow(tab) < 2) return(NA)
  ct <- suppressWarnings(chisq.test(tab))
  if (any(ct$expected < 5)) fisher.test(tab)$p.value else ct$p.value
}
# estimate, SE, 95% CI and p of one coefficient of a glm / svyglm fit
coefficient <- function(fit, term) {
  cf <- summary(fit)$coefficients
  ci <- confint(fit)
  list(estimate = cf[term, 1], se = cf[term, 2], lower = ci[term, 1], upper = ci[term, 2],
       p = cf[term, 4])
}
# E-value (VanderWeele & Ding 2017), the formulas of EValue::evalues.RR/OR/HR stated in base R
# (the EValue package needs metafor and dplyr); an OR or HR of a common outcome is first put on
# the RR scale (OR -> sqrt(OR), HR -> (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)))
evalue <- function(est, lower, upper, measure, rare = TRUE) {
  if (anyNA(c(est, lower, upper)) || min(est, lower, upper) <= 0) return(list(point = NA, ci = NA))
  e1 <- function(x) { if (x < 1) x <- 1 / x; x + sqrt(x * (x - 1)) }
  rr <- function(x) {
    if (measure == "RR" || rare) x else if (measure == "OR") sqrt(x)
    else (1 - 0.5^sqrt(x)) / (1 - 0.5^sqrt(1 / x))
  }
  r <- rr(est); l <- rr(lower); h <- rr(upper)
  ci <- if (r > 1) { if (l <= 1) 1 else e1(l) } else if (r < 1) { if (h >= 1) 1 else e1(h) } else 1
  list(point = e1(r), ci = ci)
}
# marginal risk difference and ratio by g-computation on the weighted logistic model
# (marginaleffects on the svyglm fit; the target rows by the estimand, averaged unweighted as in
# WeightIt's vignette, with the weights for ATO / ATM). marginaleffects advises `wts` for svyglm
# fits: the unweighted average is deliberate, so that one advice is muffled, nothing else.
gcomputation <- function(fit, variable, newdata, wts = FALSE) {
  advice <- function(w) if (grepl("wts", conditionMessage(w), fixed = TRUE))
    invokeRestart("muffleWarning")
  d <- withCallingHandlers(avg_comparisons(fit, variables = variable, newdata = newdata,
                                           wts = wts), warning = advice)
  r <- withCallingHandlers(avg_comparisons(fit, variables = variable, newdata = newdata,
                                           wts = wts, comparison = "lnratioavg"),
                           warning = advice)
  list(rd = list(estimate = d$estimate, se = d$std.error, lower = d$conf.low,
                 upper = d$conf.high, p = d$p.value),
       rr = list(estimate = exp(r$estimate), se = r$std.error, lower = exp(r$conf.low),
                 upper = exp(r$conf.high), p = r$p.value),
       n_target = nrow(newdata))
}
# a difference (treated minus control) with its SE: 95% CI and p from the normal distribution
z_difference <- function(estimate, se) {
  z <- qnorm(0.975)
  list(estimate = estimate, se = se, lower = estimate - z * se, upper = estimate + z * se,
       p = 2 * pnorm(-abs(estimate / se)))
}
# one arm of a weighted Kaplan-Meier fit at a time point (NA beyond its follow-up)
survival_at <- function(fit, stratum, time) {
  s <- summary(fit, times = time, extend = FALSE)
  k <- which(s$strata == stratum & s$time == time)
  if (!length(k)) return(list(surv = NA, lower = NA, upper = NA, std.err = NA))
  list(surv = s$surv[k], lower = s$lower[k], upper = s$upper[k], std.err = s$std.err[k])
}
# restricted mean survival time of one weighted arm up to tau, with its infinitesimal-jackknife
# SE (resid(type = "sojourn")); survRM2::rmst2 takes no weights
rmst_arm <- function(formula, data, weights, tau) {
  fit <- do.call(survfit, list(formula = formula, data = data, weights = weights))
  list(rmean = unname(summary(fit, rmean = tau)$table["rmean"]),
       se = sqrt(sum(resid(fit, times = tau, type = "sojourn", weighted = TRUE)^2)))
}
'''


def _cohort_block(spec: StudySpec, cohort_file: str, copy: bool) -> list[str]:
    sch = spec.schema()
    out = [_header("Cohort")]
    if copy:
        out.append("# cohort.csv is the analysed cohort as this run read it (written beside this "
                   "script: it holds\n# the same patient data as the input)")
    classes = [f"{rname(c.name)} = \"character\"" for c in sch.columns if c.kind == "id"]
    cls = f", colClasses = c({', '.join(classes)})" if classes else ""
    out.append(f"cohort <- read.csv({rstr(cohort_file)}, na.strings = c(\"\", \"NA\")"
               f"{cls}, check.names = FALSE)")
    for c in sch.columns:
        if c.kind == "category" and c.levels:
            out.append(f"cohort${rname(c.name)} <- factor(cohort${rname(c.name)}, levels = "
                       f"{rvec(c.levels)})")
        elif c.kind == "date":
            out.append(f"cohort${rname(c.name)} <- as.Date(cohort${rname(c.name)})")
    if sch.derived:
        out.append("# derived columns of the schema")
        for d in sch.derived:
            out.append(f"cohort${rname(d.name)} <- with(cohort, {d.value})")
    return out


def _eligibility_block(spec: StudySpec) -> list[str]:
    trt = spec.treatment
    out = [_header("Eligibility (flow chart)"),
           "# each rule as written in the spec; subset() drops a row where the rule is NA",
           "remaining <- nrow(cohort)",
           f"treated <- sum(cohort${rname(trt)} == 1)"]
    for st in spec.eligibility.steps:
        rule = st.rule
        if st.applies_to == "control":
            rule = f"{trt} == 1 | ({rule})"
        elif st.applies_to == "treated":
            rule = f"{trt} == 0 | ({rule})"
        out += [f"# {st.label}" + (f" ({st.applies_to} only)" if st.applies_to != "all" else ""),
                f"cohort <- subset(cohort, {rule})",
                "remaining <- c(remaining, nrow(cohort))",
                f"treated <- c(treated, sum(cohort${rname(trt)} == 1))"]
    if spec.propensity.missing == "complete":
        out += ["# missing = \"complete\": patients with a missing model covariate are left out",
                f"cohort <- cohort[complete.cases(cohort[, {rvec(spec.model_columns())}]), ]",
                "remaining <- c(remaining, nrow(cohort))",
                f"treated <- c(treated, sum(cohort${rname(trt)} == 1))"]
    out += ["rownames(cohort) <- NULL",
            "results$flow <- list(remaining = remaining, treated = treated)"]
    return out


def _arm(spec: StudySpec, g: int) -> str:
    return f"{spec.treatment} == {g}"


def _weights_block(spec: StudySpec, w: str) -> list[str]:
    p, trt = spec.propensity, spec.treatment
    args = [f"{trt} ~ {_rhs(p.covariates)}", "data = cohort", f"method = {rstr(p.method)}",
            f"estimand = {rstr(p.estimand)}"]
    if p.stabilize:
        args.append("stabilize = TRUE")
    if p.missing == "indicator":
        args.append("missing = \"ind\"")
    out = [_header("Propensity-score weights"),
           "W <- weightit(" + ",\n              ".join(args) + ")"]
    if p.trim_at is not None:
        out.append(f"W <- trim(W, at = {rnum(p.trim_at)})")
    out += [f"cohort${w} <- W$weights",
            "weight_summary <- summary(W)",
            "results$propensity <- list("]
    arms = []
    for label, g, key, col in ((spec.control_label, 0, "control", "Control"),
                               (spec.treated_label, 1, "treated", "Treated")):
        arms.append(
            f"  {rname(label)} = list(\n"
            f"    n = sum(cohort${rname(trt)} == {g}),\n"
            f"    w_min = weight_summary$weight.range${key}[1],\n"
            f"    w_max = weight_summary$weight.range${key}[2],\n"
            f"    coef_of_var = unname(weight_summary$coef.of.var[{rstr(key)}]),\n"
            f"    ess = weight_summary$effective.sample.size[\"Weighted\", {rstr(col)}])")
    out.append(",\n".join(arms) + ")")
    return out


def _balance_block(spec: StudySpec) -> list[str]:
    p = spec.propensity
    return [_header("Covariate balance"),
            "balance <- bal.tab(W, stats = c(\"mean.diffs\", \"variance.ratios\"), un = TRUE,",
            "                   binary = \"std\", continuous = \"std\",",
            f"                   thresholds = c(mean.diffs = {rnum(p.smd_threshold)}))",
            "print(balance)",
            "covariates <- balance$Balance$Type != \"Distance\"",
            "results$balance <- list(",
            "  rows = lapply(split(balance$Balance[, c(\"Diff.Un\", \"Diff.Adj\", \"V.Ratio.Un\", "
            "\"V.Ratio.Adj\")],",
            "                      rownames(balance$Balance)), as.list),",
            "  observations = lapply(split(balance$Observations, rownames(balance$Observations)),"
            " as.list),",
            "  max_abs_smd_unweighted = max(abs(balance$Balance$Diff.Un[covariates])),",
            "  max_abs_smd_weighted = max(abs(balance$Balance$Diff.Adj[covariates])))"]


def _table1_block(spec: StudySpec, data_cols, w: str) -> list[str]:
    trt = spec.treatment
    c_lab, t_lab = rname(f"{spec.control_label}|unweighted"), rname(f"{spec.treated_label}|unweighted")
    cw_lab, tw_lab = rname(f"{spec.control_label}|weighted"), rname(f"{spec.treated_label}|weighted")
    T = f"cohort${rname(trt)}"
    out = [_header("Table 1"),
           "# unweighted: median [IQR], n (%), wilcox.test / chisq.test / fisher.test;",
           "# weighted: svyquantile, svymean, svyranktest, svychisq (Rao-Scott F);",
           "# SMD: cobalt's col_w_smd, pooled SD of the unweighted arms",
           f"design <- svydesign(ids = ~1, weights = ~{w}, data = cohort)",
           f"control <- subset(design, {_arm(spec, 0)})",
           f"treated <- subset(design, {_arm(spec, 1)})",
           "results$table1 <- list()",
           "results$table1$n <- list(",
           f"  {c_lab} = list(n = sum({T} == 0)),",
           f"  {cw_lab} = list(n = sum(weights(control))),",
           f"  {t_lab} = list(n = sum({T} == 1)),",
           f"  {tw_lab} = list(n = sum(weights(treated))))"]

    def smd(x: str, binary: bool) -> str:
        b = ", bin.vars = TRUE" if binary else ""
        return (f"  smd_unweighted = col_w_smd({x}, {T}, s.d.denom = \"pooled\"{b}),\n"
                f"  smd_weighted = col_w_smd({x}, {T}, weights = cohort${w}, "
                f"s.d.denom = \"pooled\"{b})")

    for v in spec.table1:
        col = rname(v.column)
        X = f"cohort${col}"
        out.append(f"# {v.label}")
        if v.type == "continuous":
            out.append(
                f"results$table1[[{rstr(v.column)}]] <- list(\n"
                f"  {c_lab} = quartiles({X}[{T} == 0]),\n"
                f"  {cw_lab} = weighted_quartiles(~{col}, control),\n"
                f"  {t_lab} = quartiles({X}[{T} == 1]),\n"
                f"  {tw_lab} = weighted_quartiles(~{col}, treated),\n"
                f"{smd(X, False)},\n"
                f"  p_unweighted = wilcox.test({X}[{T} == 1], {X}[{T} == 0])$p.value,\n"
                f"  p_weighted = svyranktest({col} ~ {trt}, design)$p.value)")
            continue
        tests = (f"  p_unweighted = categorical_test({X}, {T}),\n"
                 f"  p_weighted = if (length(unique({X})) > 1) "
                 f"svychisq(~{col} + {trt}, design)$p.value else NA")
        if v.type == "binary":
            levels_r, key = None, f"{rstr(v.column)}"
        else:
            out.append(f"results$table1[[{rstr(v.column)}]] <- list(\n{tests})")
            levels_r = f"if (is.factor({X})) levels({X}) else sort(unique({X}))"
            key = f"paste0({rstr(v.column + '=')}, level)"
        body = (f"  {c_lab} = list(n = sum(is_level[{T} == 0]), "
                f"pct = 100 * mean(is_level[{T} == 0])),\n"
                f"  {cw_lab} = list(pct = 100 * unname(coef(svymean(~as.numeric({col} == level), "
                f"control)))),\n"
                f"  {t_lab} = list(n = sum(is_level[{T} == 1]), "
                f"pct = 100 * mean(is_level[{T} == 1])),\n"
                f"  {tw_lab} = list(pct = 100 * unname(coef(svymean(~as.numeric({col} == level), "
                f"treated)))),\n"
                f"{smd('as.numeric(is_level)', True)}")
        if v.type == "binary":
            body = body.replace(f"{col} == level", f"{col} == 1")
            out.append(f"is_level <- {X} == 1\n"
                       f"results$table1[[{key}]] <- list(\n{body},\n{tests})")
            continue
        out.append(f"for (level in {levels_r}) {{\n"
                   f"  is_level <- {X} == level\n"
                   f"  results$table1[[{key}]] <- list(\n"
                   + "\n".join("  " + ln for ln in body.split("\n")) + ")\n}")
    return out


def _target(spec: StudySpec, data: str, w: str) -> tuple[str, str]:
    """The g-computation target rows and averaging weights by the estimand."""
    est, trt = spec.propensity.estimand, spec.treatment
    if est == "ATT":
        nd = f"subset({data}, {trt} == 1)"
    elif est == "ATC":
        nd = f"subset({data}, {trt} == 0)"
    else:
        nd = data
    wts = f"{data}${w}" if est in ("ATO", "ATM") else "FALSE"
    return nd, wts


def _binary_block(spec: StudySpec, o: Outcome, col: str, w: str, results: dict | None
                  ) -> list[str]:
    trt = spec.treatment
    adj = [a for a in spec.adjustment(o.adjust) if a != trt]
    out = [f"## {o.label}: {o.definition}" + (f", among {o.among}" if o.among else "")]
    if o.among:
        out += [f"analysed <- subset(cohort, {o.among})",
                f"analysed_design <- subset(design, {o.among})"]
        data, des = "analysed", "analysed_design"
    else:
        data, des = "cohort", "design"
    T = f"{data}${rname(trt)}"
    Y = f"{data}${rname(col)}"
    arms = []
    for label, g in ((spec.control_label, 0), (spec.treated_label, 1)):
        arms.append(f"  {rname(label)} = list(n = sum({T} == {g}), events = sum({Y}[{T} == {g}]),"
                    f"\n    rate_weighted = 100 * unname(coef(svymean(~{col}, "
                    f"subset({des}, {trt} == {g}))))),")
    out.append(f"results$binary_outcomes[[{rstr(o.name)}]] <- list(\n" + "\n".join(arms)
               + f"\n  p_weighted = svychisq(~{col} + {trt}, {des})$p.value)")
    or_res = _find(results, "odds_ratios", o.name)
    if or_res is not None and or_res.get("method") == "logistf":
        out.append("# separation: the maximum-likelihood odds ratio is infinite and carts_iptw "
                   "reported Firth's\n# (logistf, which does not install here): not reproduced")
        return out
    nd, wts = _target(spec, data, w)
    rare = "NA" if o.rare is None else ("TRUE" if o.rare else "FALSE")
    out += [f"fit <- svyglm({col} ~ {_rhs([trt, *adj])}, design = {des}, "
            "family = quasibinomial())",
            f"odds_ratio <- lapply(coefficient(fit, {rstr(trt)})[c(\"estimate\", \"lower\", "
            "\"upper\")], exp)",
            f"effects <- gcomputation(fit, {rstr(trt)}, newdata = {nd}, wts = {wts})",
            "effects$evalue_rr <- with(effects$rr, evalue(estimate, lower, upper, \"RR\"))",
            f"results$odds_ratios[[{rstr(o.name)}]] <- list(",
            "  or = odds_ratio$estimate, lower = odds_ratio$lower, upper = odds_ratio$upper,",
            f"  p = coefficient(fit, {rstr(trt)})$p, effects = effects,",
            "  evalue = " + ("list(point = NA, ci = NA))  # the spec gives no rare = for this outcome"
                             if o.rare is None else
                             f"evalue(odds_ratio$estimate, odds_ratio$lower, odds_ratio$upper, "
                             f"\"OR\", rare = {rare}))")]
    return out


def _find(results: dict | None, section: str, name: str):
    if not results:
        return None
    return next((r for r in results.get(section, []) if r.get("name") == name), None)


def _continuous_block(spec: StudySpec, o: Outcome) -> list[str]:
    trt = spec.treatment
    adj = [a for a in spec.adjustment(o.adjust) if a != trt]
    des = f"subset(design, {o.among})" if o.among else "design"
    col = rname(o.column)
    out = [f"## {o.label}" + (f", among {o.among}" if o.among else "")]
    arms = []
    for _label, g in ((spec.control_label, 0), (spec.treated_label, 1)):
        m = f"{trt} == {g}" + (f" & ({o.among})" if o.among else "")
        arms.append(f"mean_{('control', 'treated')[g]} <- svymean(~{col}, subset(design, {m}))")
    out += arms
    out += [f"fit <- svyglm({col} ~ {_rhs([trt, *adj])}, design = {des}, family = gaussian())",
            f"results$continuous_outcomes[[{rstr(o.name)}]] <- list("]
    parts = []
    for label, g in ((spec.control_label, 0), (spec.treated_label, 1)):
        m = f"{trt} == {g}" + (f" & ({o.among})" if o.among else "")
        a = ("control", "treated")[g]
        parts.append(f"  {rname(label)} = list(n = sum(with(cohort, {m})), "
                     f"mean = unname(coef(mean_{a})), se = unname(SE(mean_{a}))[1]),")
    out += parts + [f"  difference = coefficient(fit, {rstr(trt)}))"]
    return out


def _distribution_block(spec: StudySpec, o: Outcome) -> list[str]:
    trt = spec.treatment
    col = rname(o.column)
    among = f" & ({o.among})" if o.among else ""
    out = [f"## {o.label}" + (f", among {o.among}" if o.among else "")]
    parts = []
    for label, g in ((spec.control_label, 0), (spec.treated_label, 1)):
        m = f"{trt} == {g}{among}"
        parts.append(f"  {rname(label)} = c(list(n = sum(with(cohort, {m}))),\n"
                     f"    weighted_quartiles(~{col}, subset(design, {m}))),")
    des = f"subset(design, {o.among})" if o.among else "design"
    out.append(f"results$distribution_outcomes[[{rstr(o.name)}]] <- list(\n" + "\n".join(parts)
               + f"\n  p_weighted = svyranktest({col} ~ {trt}, {des})$p.value)")
    return out


def _survival_block(spec: StudySpec, o: Outcome, w: str) -> list[str]:
    trt = spec.treatment
    surv = f"Surv({o.time}, {o.event})"
    tau = spec.rmst_tau if spec.rmst_tau is not None else max(spec.horizons)
    out = [f"## {o.label}",
           f"km <- survfit({surv} ~ {trt}, data = cohort, weights = {w})",
           "km_table <- summary(km)$table",
           f"logrank <- svylogrank({surv} ~ {trt}, design)",
           f"followup_end <- min(tapply(cohort${rname(o.time)}, cohort${rname(trt)}, max))",
           f"results$survival[[{rstr(o.name)}]] <- list("]
    for label, g in ((spec.control_label, 0), (spec.treated_label, 1)):
        st = f"{trt}={g}"
        at = ",\n      ".join(f"{rstr(f'{h:g}')} = survival_at(km, {rstr(st)}, {rnum(h)})"
                               "[c(\"surv\", \"lower\", \"upper\")]" for h in spec.horizons)
        out.append(
            f"  {rname(label)} = list(n = sum(cohort${rname(trt)} == {g}),\n"
            f"    events = sum(cohort${rname(o.event)}[cohort${rname(trt)} == {g}]),\n"
            f"    median_median = km_table[{rstr(st)}, \"median\"],\n"
            f"    median_lower = km_table[{rstr(st)}, \"0.95LCL\"],\n"
            f"    median_upper = km_table[{rstr(st)}, \"0.95UCL\"],\n"
            f"    at = list({at})),")
    out.append("  logrank_p = unname(logrank[[2]][\"p\"]),\n"
               "  logrank_chisq = unname(logrank[[2]][\"Chisq\"]))")
    # RMST and survival differences
    out += [f"# restricted mean survival time up to {tau:g} {spec.unit(o)}, treated minus control",
            f"if ({rnum(tau)} <= followup_end) {{",
            f"  rmst_control <- rmst_arm({surv} ~ 1, subset(cohort, {trt} == 0), "
            f"subset(cohort, {trt} == 0)${w}, {rnum(tau)})",
            f"  rmst_treated <- rmst_arm({surv} ~ 1, subset(cohort, {trt} == 1), "
            f"subset(cohort, {trt} == 1)${w}, {rnum(tau)})",
            f"  results$survival[[{rstr(o.name)}]]$rmst <- list(",
            "    difference = z_difference(rmst_treated$rmean - rmst_control$rmean,",
            "                              sqrt(rmst_treated$se^2 + rmst_control$se^2)),",
            f"    {rname(spec.control_label)} = rmst_control, {rname(spec.treated_label)} = "
            "rmst_treated)",
            "}",
            "# survival difference at each horizon, SE sqrt(se1^2 + se0^2)",
            f"results$survival[[{rstr(o.name)}]]$difference <- list()",
            f"for (h in {'c(' + ', '.join(rnum(h) for h in spec.horizons) + ')'}) {{",
            f"  s0 <- survival_at(km, {rstr(f'{trt}=0')}, h)",
            f"  s1 <- survival_at(km, {rstr(f'{trt}=1')}, h)",
            f"  results$survival[[{rstr(o.name)}]]$difference[[format(h)]] <-",
            "    z_difference(s1$surv - s0$surv, sqrt(s1$std.err^2 + s0$std.err^2))",
            "}"]
    return out


def _cox_lines(spec: StudySpec, o: Outcome, surv: str, data: str, w: str, target: str
               ) -> list[str]:
    trt = spec.treatment
    adj = [a for a in spec.adjustment(o.adjust) if a != trt]
    rare = "NA" if o.rare is None else ("TRUE" if o.rare else "FALSE")
    ev = ("list(point = NA, ci = NA)  # the spec gives no rare = for this outcome"
          if o.rare is None else
          f"evalue(hr[\"exp(coef)\"], hr[\"lower .95\"], hr[\"upper .95\"], \"HR\", rare = {rare})")
    return [f"cox <- coxph({surv} ~ {_rhs([trt, *adj])}, data = {data}, weights = {w}, "
            "robust = TRUE)",
            f"hr <- summary(cox)$conf.int[{rstr(trt)}, ]",
            f"{target} <- list(",
            "  hr = unname(hr[\"exp(coef)\"]), lower = unname(hr[\"lower .95\"]),",
            "  upper = unname(hr[\"upper .95\"]),",
            f"  p = summary(cox)$coefficients[{rstr(trt)}, \"Pr(>|z|)\"],",
            f"  robust_se = summary(cox)$coefficients[{rstr(trt)}, \"robust se\"],",
            f"  evalue = {ev})"]


def _competing_block(spec: StudySpec, o: Outcome, names: _Names, w: str) -> list[str]:
    trt = spec.treatment
    t_name, s_name = names.new(f"{o.name}_time"), names.new(f"{o.name}_status")
    cap = rnum(o.censor_at)
    scale = "" if o.competing_time_scale == 1 else f" * {rnum(o.competing_time_scale)}"
    out = [f"## {o.label}: {o.definition} by {o.censor_at:g} {spec.unit(o)}, "
           f"{o.competing_event} competing",
           f"event <- with(cohort, ({o.definition}) & {o.time} <= {cap})",
           f"competing_time <- cohort${rname(o.competing_time)}{scale}",
           f"cohort${t_name} <- ifelse(event, cohort${rname(o.time)}, "
           f"pmin({cap}, competing_time))",
           f"cohort${s_name} <- factor(ifelse(event, \"event\", ifelse(cohort$"
           f"{rname(o.competing_event)} == 1 & competing_time <= {cap}, \"competing\", "
           "\"censor\")),",
           "  levels = c(\"censor\", \"event\", \"competing\"))  # censoring first: "
           "survfit's multi-state convention",
           f"cif <- summary(survfit(Surv({t_name}, {s_name}) ~ {trt}, data = cohort, "
           f"weights = {w}), times = {cap})",
           f"results$competing[[{rstr(o.name)}]] <- list("]
    parts = []
    for k, (label, g) in enumerate(((spec.control_label, 0), (spec.treated_label, 1)), 1):
        m = f"cohort${rname(trt)} == {g}"
        parts.append(f"  {rname(label)} = list(n = sum({m}),\n"
                     f"    events = sum(cohort${s_name}[{m}] == \"event\"),\n"
                     f"    competing = sum(cohort${s_name}[{m}] == \"competing\"),\n"
                     f"    cif = cif$pstate[{k}, cif$states == \"event\"], lower = cif$lower[{k}, cif$states == \"event\"], "
                     f"upper = cif$upper[{k}, cif$states == \"event\"])")
    out.append(",\n".join(parts) + ")")
    if o.cox:
        out += ["# cause-specific Cox model of the event"]
        out += _cox_lines(spec, o, f"Surv({t_name}, {s_name} == \"event\")", "cohort", w,
                          f"results$competing[[{rstr(o.name)}]]$cox")
        out.append(f"results$cox[[{rstr(o.name)}]] <- results$competing[[{rstr(o.name)}]]$cox")
    return out


def _subgroups_block(spec: StudySpec, sg, outcome_cols: dict, w: str) -> list[str]:
    trt = spec.treatment
    o = next(x for x in spec.outcomes if x.name == sg.outcome)
    adj = [a for a in spec.adjustment(o.adjust) if a not in (trt, sg.modifier)]
    col = outcome_cols.get(o.name, o.column)
    family = "quasibinomial()" if o.type == "binary" else "gaussian()"
    back = "exp" if o.type == "binary" else "identity"
    mod = rname(sg.modifier)
    key = f"{sg.outcome} by {sg.modifier}"
    out = [f"## {o.label} by {sg.label or spec.label(sg.modifier)} "
           f"(weights: {sg.weights})",
           f"levels_of <- if (is.factor(cohort${mod})) levels(cohort${mod}) "
           f"else sort(unique(cohort${mod}))",
           f"subgroup_weights <- {'rep(0, nrow(cohort))' if sg.weights == 'reestimate' else f'cohort${w}'}",
           "rows <- list()",
           "for (level in levels_of) {"]
    if sg.weights == "reestimate":
        ps = [c for c in spec.propensity.covariates if c != sg.modifier]
        out += [f"  in_level <- cohort${mod} == level",
                "  subgroup <- cohort[in_level, ]",
                f"  subgroup${w} <- weightit({trt} ~ {_rhs(ps)}, data = subgroup, method = \"glm\", "
                f"estimand = {rstr(spec.propensity.estimand)})$weights",
                f"  subgroup_weights[in_level] <- subgroup${w}",
                f"  level_design <- svydesign(ids = ~1, weights = ~{w}, data = subgroup)"]
    else:
        out += [f"  level_design <- subset(design, {sg.modifier} == level)"]
    out += [f"  fit <- svyglm({col} ~ {_rhs([trt, *adj])}, design = level_design, family = {family})",
            f"  effect <- coefficient(fit, {rstr(trt)})",
            f"  rows[[as.character(level)]] <- list(n = nrow(level_design$variables), "
            f"estimate = {back}(effect$estimate),",
            f"    se = effect$se, lower = {back}(effect$lower), upper = {back}(effect$upper), "
            "p = effect$p)",
            "}",
            "# interaction: the treatment-by-modifier terms of one model (regTermTest)",
            "interaction_data <- cohort",
            f"interaction_data${mod} <- factor(interaction_data${mod}, levels = levels_of)",
            f"interaction_data${w} <- subgroup_weights",
            f"fit <- svyglm({col} ~ {_rhs([trt, *adj])} + {trt} * {sg.modifier},",
            f"              design = svydesign(ids = ~1, weights = ~{w}, data = interaction_data),"
            f" family = {family})",
            f"interaction <- regTermTest(fit, ~{trt}:{sg.modifier})",
            f"results$subgroups[[{rstr(key)}]] <- list(rows = rows,",
            "  interaction_p = unname(interaction$p[1]), interaction_f = unname(interaction$Ftest[1]))"]
    return out


def not_reproducible(spec: StudySpec) -> str | None:
    """Why the analysis after the flow chart cannot be recomputed in R here (None: it can)."""
    p = spec.propensity
    if p.missing == "mi":
        return "stochastic imputation (missing = \"mi\"): R's mice draws other imputations"
    if p.method == "cbps":
        return ("cbps weights: WeightIt's optimiser stalls without rootSolve, which does not "
                "install here")
    return None


def _uses_splines(spec) -> bool:
    """Whether a propensity or adjustment term calls ``ns()`` / ``bs()``.

    The script then attaches base R's splines package (it ships with R).
    """
    terms = [*spec.propensity.covariates,
             *(t for o in spec.outcomes for t in spec.adjustment(o.adjust))]
    return any(re.search(r"\b(ns|bs)\s*\(", t) for t in terms)


def generate_r_script(spec: StudySpec, results: dict | None = None, *,
                      cohort_file: str = "cohort.csv", cohort_copy: bool = False,
                      out_file: str = "results_R.json", generated_by: str = "") -> str:
    """The study as an R script that writes ``results_R.json`` (see the module docstring).

    Parameters
    ----------
    spec : StudySpec
        The study.
    results : dict, optional
        The run's results: where Python reported a Firth fit (separation), the script says so
        instead of fitting the maximum-likelihood model R would find infinite.
    cohort_file : str
        The cohort CSV the script reads (absolute, or relative to the folder it runs in).
    cohort_copy : bool
        The CSV is the run's copy of the analysed cohort (the comment says so).
    out_file : str
        Where the script writes its results by default (``Rscript reproduce.R OUT`` overrides).
    generated_by : str
        The line that says what generated the script.

    Returns
    -------
    str
        The R script.

    Notes
    -----
    No R twin: it writes the R.
    """
    trt = spec.treatment
    sch = spec.schema()
    names = _Names([c.name for c in sch.columns] + [d.name for d in sch.derived]
                   + spec.columns_needed())
    w = names.new("iptw")
    versions = ", ".join(f"{k} {v}" for k, v in R_VERSIONS.items() if k != "R")
    lines = [
        f"# {spec.name}",
        "#",
        "# Every number of this study's results.json recomputed in R from the study's spec,",
        "# written to results_R.json with the same keys; `carts-iptw verify` compares the two.",
        "# Run it in this folder:  Rscript reproduce.R  [path/of/results_R.json]",
        f"# Written for R {R_VERSIONS['R']} with {versions}.",
        "# It does not use carts_iptw." + (f" {generated_by}" if generated_by else ""),
        "",
        "suppressPackageStartupMessages({",
        *[f"  library({p})" for p in R_PACKAGES],
        *(["  library(splines)  # ns() / bs() terms"] if _uses_splines(spec) else []),
        "})",
        "out_file <- commandArgs(trailingOnly = TRUE)[1]",
        f"if (is.na(out_file)) out_file <- {rstr(out_file)}",
        "results <- list(versions = c(list(R = paste(R.version$major, R.version$minor, "
        "sep = \".\")),",
        f"  lapply(setNames(nm = {rvec(R_PACKAGES)}), function(p) "
        "format(packageVersion(p)))))",
    ]
    lines.append(HELPERS)
    lines += _cohort_block(spec, cohort_file, cohort_copy)
    lines += _eligibility_block(spec)
    why = not_reproducible(spec)
    if why:
        return "\n".join(lines + [
            _header("Not reproduced in R"), f"# {why}: carts-iptw verify lists every number "
            "after the flow chart as not compared", _header("Write results_R.json"),
            "write_json(results, out_file, auto_unbox = TRUE, digits = NA, na = \"null\", "
            "pretty = TRUE)"]) + "\n"
    # outcome indicator columns, named after the outcome
    outcome_cols: dict[str, str] = {}
    defs = []
    for o in spec.outcomes:
        if o.type == "binary":
            col = names.new(o.name)
            outcome_cols[o.name] = col
            defs.append(f"cohort${rname(col)} <- as.integer(with(cohort, {o.definition}))"
                        f"  # {o.label}")
    lines += _weights_block(spec, w)
    if defs:
        lines += [_header("Outcome definitions (0/1, from the spec)"), *defs]
    lines += _table1_block(spec, None, w)
    lines += _balance_block(spec)
    by_type = {t: [o for o in spec.outcomes if o.type == t]
               for t in ("binary", "continuous", "duration", "count", "time_to_event",
                         "competing")}
    if by_type["binary"]:
        lines += [_header("Binary outcomes: weighted rates, odds ratios, marginal effects"),
                  "results$binary_outcomes <- list()", "results$odds_ratios <- list()"]
        for o in by_type["binary"]:
            lines += _binary_block(spec, o, outcome_cols[o.name], w, results)
    if by_type["continuous"]:
        lines += [_header("Continuous outcomes: weighted means and their difference"),
                  "results$continuous_outcomes <- list()"]
        for o in by_type["continuous"]:
            lines += _continuous_block(spec, o)
    dist = by_type["duration"] + by_type["count"]
    dist = [o for o in spec.outcomes if o in dist]
    if dist:
        lines += [_header("Durations and counts: weighted median [IQR], weighted rank test"),
                  "results$distribution_outcomes <- list()"]
        for o in dist:
            lines += _distribution_block(spec, o)
    tte = by_type["time_to_event"]
    if tte or by_type["competing"]:
        lines.append("results$cox <- list()")
    if tte:
        lines += [_header("Time to event: weighted Kaplan-Meier, log-rank, RMST, Cox"),
                  "results$survival <- list()"]
        for o in tte:
            lines += _survival_block(spec, o, w)
            if o.cox:
                lines += _cox_lines(spec, o, f"Surv({o.time}, {o.event})", "cohort", w,
                                    f"results$cox[[{rstr(o.name)}]]")
    if spec.subgroups:
        lines += [_header("Subgroups: the effect within each level, interaction test"),
                  "results$subgroups <- list()"]
        for sg in spec.subgroups:
            lines += _subgroups_block(spec, sg, outcome_cols, w)
    if by_type["competing"]:
        lines += [_header("Competing risks: weighted cumulative incidence (Aalen-Johansen)"),
                  "results$competing <- list()"]
        for o in by_type["competing"]:
            lines += _competing_block(spec, o, names, w)
    lines += [_header("Write results_R.json"),
              "write_json(results, out_file, auto_unbox = TRUE, digits = NA, na = \"null\", "
              "pretty = TRUE)",
              "cat(\"wrote\", out_file, \"\\n\")"]
    del trt
    return "\n".join(lines) + "\n"
