# R's warnings as a reference: these functions let every warning of the fit reach the harness
# (rbridge captures them), which compares them with the Python function's warnings
# (cases with warnings = "mirrored", src/carts_iptw/parity/cases/conditions.py).

# stats::glm; the IRLS summary quantities that stay well defined when glm.fit warns.
ref_glm_conditions <- function(data, args) {
  ctrl <- glm.control(epsilon = if (is.null(args$epsilon)) 1e-8 else args$epsilon,
                      maxit = if (is.null(args$maxit)) 25L else args$maxit)
  fit <- glm(as.formula(args$formula), family = binomial(), data = data, control = ctrl)
  list(coef = coef(fit), deviance = fit$deviance, iter = fit$iter,
       converged = fit$converged)
}

# survival::coxph; the log partial likelihood and the coefficients of the finite terms.
ref_coxph_conditions <- function(data, args) {
  f <- as.formula(args$formula)
  environment(f) <- list2env(list(Surv = survival::Surv))
  ctrl <- survival::coxph.control(iter.max = if (is.null(args$iter_max)) 20L else args$iter_max)
  fit <- survival::coxph(f, data = data, ties = args$ties, control = ctrl)
  finite <- args$finite
  list(loglik = fit$loglik, coef = coef(fit)[finite], iter = fit$iter)
}

# survey::svyglm on svydesign(ids = ~1, weights = ~<args$weights>); glm.fit's warnings (R's
# "non-integer #successes in a binomial glm!" that survey does not suppress, fitted
# probabilities 0 or 1, non-convergence) reach the harness.
ref_svyglm_conditions <- function(data, args) {
  d <- survey::svydesign(ids = ~1, weights = as.formula(paste0("~", args$weights)), data = data)
  ctrl <- glm.control(epsilon = if (is.null(args$epsilon)) 1e-8 else args$epsilon,
                      maxit = if (is.null(args$maxit)) 25L else args$maxit)
  # do.call inlines the control list (svyglm re-evaluates its call elsewhere)
  fit <- do.call(survey::svyglm, list(formula = as.formula(args$formula), design = d,
                                      family = get(args$family)(), control = ctrl))
  out <- list(coef = coef(fit), iter = fit$iter, converged = fit$converged)
  if (!isFALSE(args$se)) out$se <- sqrt(diag(vcov(fit)))
  out
}
