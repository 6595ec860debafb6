# Reference functions for carts_iptw.effects.ate: the REAL riskRegression::ate (riskRegression
# 2022.11.28, Debian r-cran-riskregression) with a logistic or survival::coxph outcome model, a
# logistic treatment model and a coxph censoring model, as riskRegression's own examples fit them
# (coxph(..., x = TRUE, y = TRUE)).
suppressPackageStartupMessages({
  library(survival)
  library(riskRegression)
})

.ate_tables <- function(a) {
  out <- list()
  for (tab in c("meanRisk", "diffRisk", "ratioRisk")) {
    d <- as.data.frame(a[[tab]])
    d$estimator <- factor(d$estimator, levels = c("GFORMULA", "IPTW", "AIPTW"))
    key <- if (tab == "meanRisk") list(d$estimator, d$treatment, d$time) else list(d$estimator, d$time)
    d <- d[do.call(order, key), , drop = FALSE]
    nm <- switch(tab, meanRisk = "mean", diffRisk = "diff", ratioRisk = "ratio")
    cols <- c("estimate", "se", "lower", "upper", if (tab != "meanRisk") "p.value")
    for (cc in cols) out[[paste0(nm, ".", sub(".", "_", cc, fixed = TRUE))]] <- as.numeric(d[[cc]])
  }
  out
}

ref_ate <- function(data, args) {
  trt <- args$treatment_var
  data[[trt]] <- factor(data[[trt]])
  est <- unlist(args$estimator)
  tfit <- glm(as.formula(args$treatment), data = data, family = binomial())
  if (identical(args$type, "binary")) {
    efit <- glm(as.formula(args$event), data = data, family = binomial())
    a <- ate(event = efit, treatment = tfit, data = data, estimator = est, verbose = FALSE)
  } else {
    efit <- coxph(as.formula(args$event), data = data, x = TRUE, y = TRUE)
    # cause = 1 given: ate() would otherwise eval(fit$call$data) in its own frame (not here)
    cfit <- if (is.null(args$censor)) NULL else
      coxph(as.formula(args$censor), data = data, x = TRUE, y = TRUE)
    a <- ate(event = efit, treatment = tfit, censor = cfit, data = data,
             times = unlist(args$times), estimator = est, cause = 1, verbose = FALSE)
  }
  .ate_tables(a)
}
