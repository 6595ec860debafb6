# Reference functions for carts_iptw.effects: the REAL marginaleffects 0.22.0 on real
# WeightIt 1.5.1 glm_weightit fits (and survey::svyglm, glm + sandwich), survival's
# summary(survfit(...), rmean = , times = ), survRM2::rmst2.
suppressPackageStartupMessages({
  library(survival)
  library(survey)
})

.factors <- function(data) {
  for (v in names(data)) if (inherits(data[[v]], "factor")) class(data[[v]]) <- class(data[[v]])
  data
}

.me_out <- function(fit, data, args, wts = FALSE) {
  trt <- args$variable
  nd <- data
  if (!is.null(args$target) && args$target == "treated") nd <- data[data[[trt]] == 1, , drop = FALSE]
  if (!is.null(args$target) && args$target == "controls") nd <- data[data[[trt]] == 0, , drop = FALSE]
  if (!isFALSE(wts) && !is.null(args$target) && args$target != "all") {
    wts <- wts[data[[trt]] == if (args$target == "treated") 1 else 0]
  }
  cmp <- switch(args$comparison, difference = "difference", ratio = "lnratioavg",
                oddsratio = "lnoravg")
  # log scale (SE, z, p) and, for ratios, the exponentiated estimate and interval
  a <- marginaleffects::avg_comparisons(fit, variables = trt, newdata = nd, comparison = cmp,
                                        wts = wts)
  out <- list(estimate = a$estimate, std_error = a$std.error, statistic = a$statistic,
              p_value = a$p.value, conf_low = a$conf.low, conf_high = a$conf.high)
  if (args$comparison != "difference") {
    e <- marginaleffects::avg_comparisons(fit, variables = trt, newdata = nd, comparison = cmp,
                                          transform = "exp", wts = wts)
    out$estimate <- e$estimate
    out$conf_low <- e$conf.low
    out$conf_high <- e$conf.high
    out$log_estimate <- a$estimate
    if (abs(e$p.value - a$p.value) > 1e-12) stop("transform changed the p-value")
  }
  out$n <- nrow(nd)
  out
}

# avg_comparisons on a real WeightIt::glm_weightit fit (vcov = "asympt": M-estimation)
ref_avg_comparisons_weightit <- function(data, args) {
  data <- .factors(data)
  sw <- if (is.null(args$s_weights)) NULL else data[[args$s_weights]]
  W <- WeightIt::weightit(as.formula(args$ps_formula), data = data, method = "glm",
                          estimand = args$estimand, s.weights = sw)
  fit <- WeightIt::glm_weightit(as.formula(args$formula), data = data, weightit = W,
                                family = get(args$family)(), vcov = args$vcov)
  # WeightIt's documented averaging: ATO/ATM with the weights (times s.weights), else with
  # non-constant sampling weights, else unweighted
  wts <- FALSE
  if (args$estimand %in% c("ATO", "ATM")) {
    wts <- W$weights * W$s.weights
  } else if (!is.null(sw)) {
    wts <- W$s.weights
  }
  .me_out(fit, data, args, wts)
}

# avg_comparisons on survey::svyglm (design-based vcov) and on glm + sandwich::vcovHC("HC0")
ref_avg_comparisons_svyglm <- function(data, args) {
  data <- .factors(data)
  des <- svydesign(ids = ~1, weights = as.formula(paste("~", args$weights)), data = data)
  fit <- suppressWarnings(svyglm(as.formula(args$formula), design = des,
                                 family = get(args$family)()))
  .me_out(fit, data, args)
}

ref_avg_comparisons_robust <- function(data, args) {
  data <- .factors(data)
  data$.w <- data[[args$weights]]
  fit <- suppressWarnings(glm(as.formula(args$formula), data = data, weights = .w,
                              family = get(args$family)()))
  a <- marginaleffects::avg_comparisons(fit, variables = args$variable, vcov = "HC0",
                                        comparison = switch(args$comparison,
                                          difference = "difference", ratio = "lnratioavg",
                                          oddsratio = "lnoravg"))
  out <- list(std_error = a$std.error, statistic = a$statistic, p_value = a$p.value)
  out$log_or_diff <- a$estimate
  out
}
