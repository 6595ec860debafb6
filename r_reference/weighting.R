# The real WeightIt (1.5.1): every weighting parity case calls the package itself.
# Each function takes the data.frame Python sends and `args`, and returns a named list.
# (The base-R restatements of WeightIt that lived here were deleted once the real package
# answered the same questions.)

.wi_fit <- function(data, args, method = NULL) {
  a <- list(as.formula(args$formula), data = data,
            method = if (is.null(method)) (if (is.null(args$method)) "glm" else args$method) else method,
            estimand = if (is.null(args$estimand)) "ATE" else args$estimand,
            stabilize = isTRUE(args$stabilize), include.obj = TRUE)
  if (!is.null(args$s_weights)) a$s.weights <- args$s_weights  # a column name
  if (!is.null(args$focal)) a$focal <- args$focal
  if (!is.null(args$missing)) a$missing <- args$missing
  if (!is.null(args$reltol)) a$reltol <- args$reltol          # ebal / cbps optim tolerance
  if (!is.null(args$epsilon)) a$epsilon <- args$epsilon      # glm.control() via weightit's ...
  if (!is.null(args$maxit)) a$maxit <- args$maxit
  do.call(WeightIt::weightit, a)
}

# weightit(): weights, propensity score and (method "glm") the glm fit's deviance/iterations.
real_weightit <- function(data, args) {
  W <- .wi_fit(data, args)
  out <- list(weights = unname(W$weights))
  if (!is.null(W$ps)) out$ps <- unname(W$ps)
  if (identical(W$method, "glm")) {
    out$deviance <- deviance(W$obj)
    out$iter <- W$obj$iter
    out$converged <- as.numeric(W$obj$converged)
  }
  if (!is.null(args$group_sums)) out$group_sums <- unname(tapply(W$weights, W$treat, sum))
  out
}

# summary(weightit): ranges, largest weights, CV, MAD, entropy, ESS per group.
real_weight_summary <- function(data, args) {
  W <- .wi_fit(data, args)
  s <- summary(W)
  out <- list()
  for (g in c("treated", "control")) {
    col <- if (g == "treated") "Treated" else "Control"
    out[[g]] <- list(
      min = unname(s$weight.range[[g]][1]), max = unname(s$weight.range[[g]][2]),
      top = unname(s$weight.top[[g]]),
      coef_of_var = unname(s$coef.of.var[g]), scaled_mad = unname(s$scaled.mad[g]),
      negative_entropy = unname(s$negative.entropy[g]),
      ess_unweighted = unname(s$effective.sample.size["Unweighted", col]),
      ess_weighted = unname(s$effective.sample.size["Weighted", col]))
    if (isTRUE(args$skip_max)) out[[g]]$max <- NULL
  }
  out
}

# trim() on the weightit object and on its weight vector (with and without treat).
real_trim <- function(data, args) {
  W <- .wi_fit(data, args)
  lower <- isTRUE(args$lower)
  drop <- isTRUE(args$drop)
  list(object = unname(suppressMessages(WeightIt::trim(W, at = args$at, lower = lower,
                                                       drop = drop))$weights),
       vector_treat = unname(c(suppressMessages(WeightIt::trim(W$weights, at = args$at,
                                                               lower = lower, drop = drop,
                                                               treat = W$treat)))),
       vector = unname(c(suppressMessages(WeightIt::trim(W$weights, at = args$at, lower = lower,
                                                         drop = drop)))))
}

# get_w_from_ps() on the propensity score of WeightIt's glm.
real_get_w_from_ps <- function(data, args) {
  W <- .wi_fit(data, args, method = "glm")
  A <- as.numeric(W$treat == levels(factor(W$treat))[2])
  list(ps = unname(W$ps),
       weights = unname(WeightIt::get_w_from_ps(W$ps, A, estimand = args$target,
                                                stabilize = isTRUE(args$stabilize_w))))
}

# glm_weightit(): coefficients and vcov ("asympt", "HC0"; bootstraps "BS"/"FWB" seeded in R).
real_glm_weightit <- function(data, args) {
  W <- .wi_fit(data, args)
  fam <- get(args$family)()
  if (!is.null(args$seed)) set.seed(args$seed)
  fit <- WeightIt::glm_weightit(as.formula(args$outcome), data = data, weightit = W,
                                family = fam, vcov = args$vcov,
                                R = if (is.null(args$R)) 500L else as.integer(args$R))
  V <- vcov(fit)
  out <- list(coef = coef(fit), se = sqrt(diag(V)))
  if (args$vcov %in% c("asympt", "HC0")) {
    s <- summary(fit)$coefficients
    ci <- confint(fit)
    out$vcov <- V
    out$tvalues <- setNames(s[, 3], rownames(s))
    out$pvalues <- setNames(s[, 4], rownames(s))
    out$lower <- setNames(ci[, 1], rownames(ci))
    out$upper <- setNames(ci[, 2], rownames(ci))
  }
  out
}

# The live variant of the held-out cases (their snapshot: real output in snapshots/external/).
real_weightit_heldout <- function(data, args) {
  W <- WeightIt::weightit(as.formula(args$formula), data = data, method = "glm",
                          estimand = args$estimand, include.obj = TRUE)
  s <- summary(W)
  list(ps = unname(W$ps), weights = unname(W$weights),
       ess_weighted = unname(unlist(s$effective.sample.size["Weighted", c("Control", "Treated")])),
       range_treated = unname(s$weight.range$treated), range_control = unname(s$weight.range$control),
       top_treated = unname(s$weight.top$treated), top_control = unname(s$weight.top$control),
       coef_of_var = unname(s$coef.of.var[c("treated", "control")]),
       scaled_mad = unname(s$scaled.mad[c("treated", "control")]),
       negative_entropy = unname(s$negative.entropy[c("treated", "control")]),
       deviance = deviance(W$obj))
}

# The live variant of the held-out glm_weightit cases (snapshot: real output in external/).
real_glm_weightit_heldout <- function(data, args) {
  out <- real_glm_weightit(data, args)
  out[c("coef", "se", "vcov", "tvalues", "pvalues")]
}
