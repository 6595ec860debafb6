# table_one(): per-arm means (unweighted and survey::svymean-weighted), SDs, and the SMDs of
# cobalt::bal.tab with a pooled standard deviation (binary = "std"), weights from WeightIt.
suppressPackageStartupMessages({
  library(survey)
  library(WeightIt)
  library(cobalt)
})

ref_table_one <- function(data, args) {
  for (v in names(data)) if (inherits(data[[v]], "factor")) class(data[[v]]) <- class(data[[v]])
  trt <- args$treatment
  W <- weightit(as.formula(args$ps_formula), data = data, method = "glm",
                estimand = args$estimand)
  vars <- unlist(args$vars)
  b <- bal.tab(as.formula(paste(trt, "~", paste(vars, collapse = " + "))), data = data,
               weights = W$weights, s.d.denom = "pooled", binary = "std",
               continuous = "std", un = TRUE)$Balance
  # indicator columns in cobalt's order and names (factor levels as var_level; a 0/1
  # variable as itself)
  X <- list()
  for (v in vars) {
    x <- data[[v]]
    if (is.factor(x) || is.character(x)) {
      lv <- if (is.factor(x)) levels(x) else sort(unique(x))
      for (l in lv) X[[paste0(v, "_", l)]] <- as.numeric(x == l)
    } else X[[v]] <- as.numeric(x)
  }
  X <- as.data.frame(X, check.names = FALSE)
  arm <- data[[trt]]
  X$.w <- W$weights
  d <- svydesign(ids = ~1, weights = ~.w, data = X)
  keys <- setdiff(names(X), ".w")
  f <- as.formula(paste("~", paste(sprintf("`%s`", keys), collapse = " + ")))
  cont <- keys[vapply(keys, function(k) !all(X[[k]] %in% c(0, 1)), TRUE)]
  list(
    mean_control = colMeans(X[arm == 0, keys]), mean_treated = colMeans(X[arm == 1, keys]),
    wmean_control = setNames(unname(coef(svymean(f, subset(d, arm == 0)))), keys),
    wmean_treated = setNames(unname(coef(svymean(f, subset(d, arm == 1)))), keys),
    smd = setNames(b[keys, "Diff.Un"], keys), smd_weighted = setNames(b[keys, "Diff.Adj"], keys),
    sd_control = vapply(cont, function(k) sd(X[arm == 0, k]), 0),
    sd_treated = vapply(cont, function(k) sd(X[arm == 1, k]), 0))
}
