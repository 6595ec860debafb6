# Reference functions for carts_iptw.design: survey / sandwich / stats twins.
# Each function(data, args) -> named list of numbers / named numeric vectors.
suppressPackageStartupMessages({
  library(survey)
  library(sandwich)
})

# Re-assert factor classes at R level (sets the object bit, so is.numeric() is FALSE for them
# whatever route the data.frame was built by).
.factors <- function(data) {
  for (v in names(data)) if (inherits(data[[v]], "factor")) class(data[[v]]) <- class(data[[v]])
  data
}

.design0 <- function(data, args) {
  data <- .factors(data)
  ids <- if (is.null(args$ids)) ~1 else as.formula(paste("~", args$ids))
  if (is.null(args$strata)) {
    svydesign(ids = ids, weights = as.formula(paste("~", args$weights)), data = data)
  } else {
    svydesign(ids = ids, strata = as.formula(paste("~", args$strata)),
              weights = as.formula(paste("~", args$weights)), data = data,
              nest = isTRUE(args$nest))
  }
}

.design <- function(data, args) {
  d <- .design0(data, args)
  # a domain: survey's subset() keeps the full design's PSU counts
  if (!is.null(args$subset)) d <- d[d$variables[[args$subset]] == 1, ]
  d
}

.htest <- function(h) {
  out <- list(statistic = unname(h$statistic), p_value = unname(h$p.value))
  if (!is.null(h$parameter)) out$parameter <- h$parameter
  if (!is.null(h$estimate)) out$estimate <- unname(h$estimate)
  if (!is.null(h$conf.int)) out$conf_int <- as.numeric(h$conf.int)
  out
}

ref_svymean <- function(data, args) {
  d <- .design(data, args)
  m <- svymean(as.formula(args$x), d)
  list(coef = coef(m), se = SE(m), degf = degf(d))
}

ref_svytotal <- function(data, args) {
  d <- .design(data, args)
  m <- svytotal(as.formula(args$x), d)
  list(coef = coef(m), se = SE(m))
}

ref_svyby <- function(data, args) {
  d <- .design(data, args)
  b <- svyby(as.formula(args$x), as.formula(args$by), d, svymean)
  list(coef = as.vector(as.matrix(coef(b))), se = as.vector(as.matrix(SE(b))))
}

ref_svyquantile <- function(data, args) {
  d <- .design(data, args)
  q <- svyquantile(as.formula(paste("~", args$x)), d, quantiles = unlist(args$quantiles))
  tab <- q[[1]]
  list(quantile = tab[, 1], lower = tab[, 2], upper = tab[, 3], se = tab[, 4])
}

ref_svychisq <- function(data, args) {
  d <- .design(data, args)
  .htest(svychisq(as.formula(args$formula), d, statistic = args$statistic))
}

ref_svyttest <- function(data, args) {
  d <- .design(data, args)
  .htest(svyttest(as.formula(args$formula), d))
}

ref_svyranktest <- function(data, args) {
  d <- .design(data, args)
  .htest(svyranktest(as.formula(args$formula), d, test = args$test))
}

# k groups: survey:::multiranktest puts the chi-squared in $parameter and the df in $statistic
ref_svyranktest_k <- function(data, args) {
  d <- .design(data, args)
  h <- svyranktest(as.formula(args$formula), d, test = args$test)
  list(statistic = unname(h$parameter[1]), p_value = h$p.value,
       parameter = c(df = unname(h$statistic), ddf = unname(h$ddf)))
}

ref_wilcox_test <- function(data, args) {
  data <- .factors(data)
  g <- data[[args$group]]
  lv <- sort(unique(g))
  x <- data[[args$x]][g == lv[1]]
  y <- data[[args$x]][g == lv[2]]
  h <- suppressWarnings(wilcox.test(x, y))
  list(statistic = unname(h$statistic), p_value = h$p.value)
}

ref_chisq_test <- function(data, args) {
  data <- .factors(data)
  h <- suppressWarnings(chisq.test(table(data[[args$x]], data[[args$y]])))
  list(statistic = unname(h$statistic), parameter = unname(h$parameter), p_value = h$p.value)
}

ref_fisher_test <- function(data, args) {
  data <- .factors(data)
  h <- fisher.test(table(data[[args$x]], data[[args$y]]))
  out <- list(p_value = h$p.value)
  if (!is.null(h$estimate)) {
    out$estimate <- unname(h$estimate)
    out$conf_int <- as.numeric(h$conf.int)
  }
  out
}

.ctrl <- function(args) {
  glm.control(epsilon = if (is.null(args$epsilon)) 1e-8 else args$epsilon,
              maxit = if (is.null(args$maxit)) 25 else args$maxit)
}

.model_out <- function(cf, V, df, level = 0.95) {
  se <- sqrt(diag(V))
  tv <- cf / se
  if (is.finite(df)) {
    p <- 2 * pt(-abs(tv), df)
    q <- qt(1 - (1 - level) / 2, df)
  } else {
    p <- 2 * pnorm(-abs(tv))
    q <- qnorm(1 - (1 - level) / 2)
  }
  list(coef = cf, se = se, vcov = V, tvalues = tv, pvalues = p,
       lower = cf - q * se, upper = cf + q * se)
}

# survey::svyglm with summary.svyglm's table and confint.svyglm's default interval
ref_svyglm <- function(data, args) {
  d <- .design(data, args)
  fam <- get(args$family)()
  # do.call inlines the control list (svyglm re-evaluates its call elsewhere)
  fit <- suppressWarnings(do.call(svyglm, list(formula = as.formula(args$formula), design = d,
                                               family = fam, control = .ctrl(args))))
  s <- summary(fit)$coefficients
  ci <- confint(fit)
  out <- list(coef = coef(fit), se = s[, 2], vcov = unclass(vcov(fit)), tvalues = s[, 3],
              pvalues = s[, 4], df_residual = fit$df.residual,
              lower = ci[, 1], upper = ci[, 2])
  attr(out$vcov, "means") <- NULL
  if (fam$link == "logit") {
    out$odds_ratio <- exp(coef(fit))
    out$or_lower <- exp(ci[, 1])
    out$or_upper <- exp(ci[, 2])
  }
  out
}

# glm + sandwich::vcovHC (HC0 / HC1), normal reference as lmtest::coeftest.glm
ref_glm_robust <- function(data, args) {
  data <- .factors(data)
  fit <- suppressWarnings(glm(as.formula(args$formula), data = data,
                              family = get(args$family)(), weights = data[[args$weights]],
                              control = .ctrl(args)))
  V <- sandwich::vcovHC(fit, type = args$type)
  .model_out(coef(fit), V, Inf)
}

# --- glm_weightit: checked against the real WeightIt (r_reference/weighting.R) ---------------
