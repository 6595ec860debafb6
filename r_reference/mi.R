# Multiple imputation: the pooling of analyses of the SAME completed data sets (sent stacked,
# with the imputation number in `.imp`, as mice's complete(imp, "long")) by the real
# mice::pool (mice 3.15.0, Debian), and cobalt's balance across imputations (bal.tab with imp=).
# Each analysis is fitted by the real packages: WeightIt::weightit in each data set, then
# survey::svyglm, WeightIt::glm_weightit, survival::coxph or marginaleffects::avg_comparisons.

suppressMessages({library(survival); library(survey)})

.mi_factors <- function(data) {
  for (v in names(data)) if (inherits(data[[v]], "factor")) class(data[[v]]) <- class(data[[v]])
  data
}

# mice::pool asks broom's glance() of each fit for the complete-data df. marginaleffects'
# glance() of a comparisons object needs the modelsummary package; without it (as here: not in
# Debian) insight asks on the console whether to install it when R is interactive (rpy2's R
# is), then fails, and mice assumes dfcom = Inf ("Infinite sample size assumed."). To keep the
# reference non-interactive, the comparisons get an extra class whose glance() fails at once:
# mice takes the same path (dfcom = Inf); tidy() still dispatches to marginaleffects' method.
registerS3method("glance", "carts_mi_no_glance",
                 function(x, ...) stop("glance() needs modelsummary"),
                 envir = asNamespace("generics"))

.mi_fit <- function(x, args) {
  W <- WeightIt::weightit(as.formula(args$ps_formula), data = x, method = "glm",
                          estimand = args$estimand)
  x$.w <- W$weights
  switch(args$model,
    svyglm = suppressWarnings(survey::svyglm(as.formula(args$formula),
      design = survey::svydesign(ids = ~1, weights = ~.w, data = x),
      family = get(args$family)())),
    glm_weightit = WeightIt::glm_weightit(as.formula(args$formula), data = x, weightit = W,
                                          family = get(args$family)()),
    coxph = survival::coxph(as.formula(args$formula), data = x, weights = .w, robust = TRUE),
    avg_comparisons = {
      # the estimand's target units, as WeightIt documents (ATT: the treated)
      nd <- switch(args$estimand, ATT = x[x[[args$variable]] == 1, , drop = FALSE],
                   ATC = x[x[[args$variable]] == 0, , drop = FALSE], x)
      a <- marginaleffects::avg_comparisons(
        WeightIt::glm_weightit(as.formula(args$formula), data = x, weightit = W,
                               family = get(args$family)()),
        variables = args$variable, newdata = nd)
      class(a) <- c("carts_mi_no_glance", class(a))
      a
    },
    stop("unknown model"))
}

ref_mi_pool <- function(data, args) {
  data <- .mi_factors(data)
  m <- max(data$.imp)
  fits <- lapply(seq_len(m), function(i) {
    x <- data[data$.imp == i, setdiff(names(data), c(".imp", ".id"))]
    rownames(x) <- NULL
    .mi_fit(x, args)
  })
  p <- if (is.null(args$dfcom)) mice::pool(fits) else mice::pool(fits, dfcom = args$dfcom)
  s <- summary(p, conf.int = TRUE)
  x <- p$pooled
  out <- list(m = x$m[1], estimate = x$estimate, ubar = x$ubar, b = x$b, t = x$t,
              dfcom = x$dfcom, df = x$df, riv = x$riv, lambda = x$lambda, fmi = x$fmi,
              std_error = s$std.error, statistic = s$statistic, p_value = s$p.value,
              conf_low = s[["2.5 %"]], conf_high = s[["97.5 %"]])
  for (k in setdiff(names(out), "m")) names(out[[k]]) <- as.character(x$term)
  out
}

ref_mi_bal_tab <- function(data, args) {
  data <- .mi_factors(data)
  data$.w <- NA_real_
  for (i in unique(data$.imp)) {
    r <- data$.imp == i
    data$.w[r] <- WeightIt::weightit(as.formula(args$ps_formula), data = data[r, ],
                                     method = "glm", estimand = args$estimand)$weights
  }
  b <- cobalt::bal.tab(as.formula(args$ps_formula), data = data, weights = ".w", imp = ".imp",
                       estimand = args$estimand, un = TRUE, stats = unlist(args$stats))
  a <- b$Balance.Across.Imputations
  out <- list(rows = rownames(a))
  for (k in setdiff(names(a), "Type")) out[[k]] <- setNames(as.numeric(a[[k]]), rownames(a))
  o <- b$Observations
  out$obs_unadjusted <- as.numeric(o["Unadjusted", ])
  out$obs_adjusted <- as.numeric(o["Adjusted", ])
  out
}

# mice::pool.scalar on one scalar per completed data set: the mean of a column and its
# variance var(x) / n
ref_mi_pool_scalar <- function(data, args) {
  imps <- sort(unique(data$.imp))
  Q <- sapply(imps, function(i) mean(data[[args$column]][data$.imp == i]))
  U <- sapply(imps, function(i) { x <- data[[args$column]][data$.imp == i]; var(x) / length(x) })
  n <- if (is.null(args$n)) Inf else args$n
  p <- mice::pool.scalar(Q, U, n = n, k = args$k)
  list(m = p$m, qbar = p$qbar, ubar = p$ubar, b = p$b, t = p$t, df = p$df, r = p$r,
       fmi = p$fmi)
}
