# R side of tests/parity/test_random_live_r.py: the same random data sets (drawn in Python from a
# fixed seed list, sent by rpy2) fitted by the reference packages themselves. Each function takes
# the data.frame and `args` and returns a named list of numbers.

suppressPackageStartupMessages({
  library(survival)
  library(survey)
})

# survey::svyglm, quasibinomial, design weights w; `TRUE` is a column (backticks), as in R
prop_svyglm <- function(data, args) {
  des <- svydesign(ids = ~1, weights = ~w, data = data)
  fit <- svyglm(as.formula(args$formula), design = des, family = quasibinomial())
  s <- summary(fit)$coefficients
  list(coef = coef(fit), se = s[, 2], names = names(coef(fit)))
}

# survival::coxph with case weights (robust variance on: non-integer weights)
prop_coxph <- function(data, args) {
  fit <- coxph(as.formula(args$formula), data = data, weights = w, ties = args$ties)
  list(coef = unname(coef(fit)), se = unname(sqrt(diag(fit$var))),
       naive_se = unname(sqrt(diag(fit$naive.var))), loglik = fit$loglik)
}

# survival::survfit with case weights (IJ standard error for non-integer weights)
prop_survfit <- function(data, args) {
  fit <- survfit(as.formula(args$formula), data = data, weights = w)
  list(time = fit$time, surv = fit$surv, std_err = fit$std.err, n_risk = fit$n.risk)
}

# survey::svychisq (Rao-Scott F) on a table with many cells
prop_svychisq <- function(data, args) {
  des <- svydesign(ids = ~1, weights = ~w, data = data)
  r <- svychisq(as.formula(args$formula), des, statistic = "F")
  list(statistic = unname(r$statistic), ndf = unname(r$parameter[1]),
       ddf = unname(r$parameter[2]), p_value = unname(r$p.value))
}

# the real WeightIt (1.5.1), method "glm" / "ebal"; ebal's optim(BFGS) stops at reltol = 1e-10
# (about 1e-5 imbalance), so the test passes a tighter reltol
prop_weightit <- function(data, args) {
  suppressPackageStartupMessages(library(WeightIt))
  extra <- if (is.null(args$reltol)) list() else list(reltol = args$reltol)
  W <- do.call(weightit, c(list(as.formula(args$formula), data = data, method = args$method,
                                estimand = args$estimand), extra))
  out <- list(weights = unname(W$weights))
  if (!is.null(W$ps)) out$ps <- unname(W$ps)
  out
}
