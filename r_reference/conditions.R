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
