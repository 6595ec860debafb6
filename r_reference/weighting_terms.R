# Propensity models with spline terms (splines::ns / splines::bs) and with missing covariates
# (weightit(missing = "ind")): the real WeightIt 1.5.1, cobalt 4.6.1 and survey on them.
# Each function takes the data.frame Python sends and `args`, and returns a named list.
suppressPackageStartupMessages(library(splines))  # ns() / bs() in the formulas

# The basis matrix itself: splines::ns(x, df) / splines::bs(x, df, degree), intercept = FALSE,
# knots at R's quantiles of x, Boundary.knots = range(x).
spline_basis <- function(data, args) {
  x <- data[[args$x]]
  B <- if (args$kind == "ns") ns(x, df = args$df)
       else bs(x, df = args$df, degree = if (is.null(args$degree)) 3L else args$degree)
  list(basis = as.vector(unclass(B)), ncol = ncol(B),
       knots = unname(attr(B, "knots")), boundary = unname(attr(B, "Boundary.knots")))
}

.wt_fit <- function(data, args) {
  a <- list(as.formula(args$formula), data = data, method = "glm",
            estimand = if (is.null(args$estimand)) "ATE" else args$estimand, include.obj = TRUE)
  if (!is.null(args$missing)) a$missing <- args$missing
  do.call(WeightIt::weightit, a)
}

# weightit(): weights, propensity score, the glm's deviance and iterations. (Not its
# coefficients: WeightIt fits on its own covariate matrix, continuous columns rescaled and a
# factor's reference level of its choosing, so only the fitted model is comparable.)
terms_weightit <- function(data, args) {
  W <- .wt_fit(data, args)
  list(weights = unname(W$weights), ps = unname(W$ps),
       deviance = deviance(W$obj), iter = W$obj$iter)
}

# cobalt::bal.tab on that weightit object: every column of $Balance and $Observations.
terms_bal_tab <- function(data, args) {
  W <- .wt_fit(data, args)
  b <- suppressWarnings(cobalt::bal.tab(W, stats = c("mean.diffs", "variance.ratios"),
                                        un = TRUE, quick = TRUE, disp = c("means", "sds"),
                                        binary = args$binary))
  B <- b$Balance
  out <- list()
  for (col in names(B)) out[[col]] <- setNames(B[[col]], rownames(B))
  O <- b$Observations
  out$Observations <- list(Control = unname(O[[1]]), Treated = unname(O[[2]]))
  out
}

# WeightIt::glm_weightit on that weightit object (M-estimation: the propensity model's score,
# with its spline columns or missingness indicators, stacked).
terms_glm_weightit <- function(data, args) {
  W <- .wt_fit(data, args)
  fit <- WeightIt::glm_weightit(as.formula(args$outcome), data = data, weightit = W,
                                family = get(args$family)(), vcov = args$vcov)
  V <- vcov(fit)
  s <- summary(fit)$coefficients
  ci <- confint(fit)
  list(coef = coef(fit), se = sqrt(diag(V)), vcov = V,
       tvalues = setNames(s[, 3], rownames(s)), pvalues = setNames(s[, 4], rownames(s)),
       lower = setNames(ci[, 1], rownames(ci)), upper = setNames(ci[, 2], rownames(ci)))
}

# survey::svyglm with those weights (design-based SE, weights treated as known).
terms_svyglm <- function(data, args) {
  W <- .wt_fit(data, args)
  data$.w <- W$weights
  des <- survey::svydesign(ids = ~1, weights = ~.w, data = data)
  fit <- suppressWarnings(survey::svyglm(as.formula(args$outcome), design = des,
                                         family = get(args$family)()))
  s <- summary(fit)$coefficients
  ci <- confint(fit)
  list(coef = coef(fit), se = s[, 2], pvalues = setNames(s[, 4], rownames(s)),
       lower = setNames(ci[, 1], rownames(ci)), upper = setNames(ci[, 2], rownames(ci)))
}

# A study's weights as summary.weightit reports them per arm (n, range, CV, ESS), after the
# spec's eligibility rules evaluated by R itself (subset() semantics: NA excludes the row).
study_weight_summary <- function(data, args) {
  for (v in names(data)) if (inherits(data[[v]], "factor")) class(data[[v]]) <- class(data[[v]])
  trt <- args$treatment
  for (st in args$rules) {
    keep <- eval(parse(text = st$rule), data)
    keep <- !is.na(keep) & keep
    if (st$applies_to == "control") keep <- keep | data[[trt]] == 1
    if (st$applies_to == "treated") keep <- keep | data[[trt]] == 0
    data <- data[keep, , drop = FALSE]
  }
  W <- WeightIt::weightit(as.formula(args$ps_formula), data = data, method = "glm",
                          estimand = args$estimand)
  s <- summary(W)
  arm <- function(g, col) c(n = sum(data[[trt]] == (g == "treated")),
                             w_min = unname(s$weight.range[[g]][1]),
                             w_max = unname(s$weight.range[[g]][2]),
                             coef_of_var = unname(s$coef.of.var[[g]]),
                             ess = unname(s$effective.sample.size["Weighted", col]))
  list(control = arm("control", "Control"), treated = arm("treated", "Treated"))
}
