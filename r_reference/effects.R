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

# --- restricted mean survival time: survival's survmean (summary(fit, rmean = tau)$table),
# weighted or not, and the difference / ratio of the two arms with survRM2's formulas
.survfit_w <- function(data, args) {
  cl <- list(formula = as.formula(args$formula), data = data)
  if (!is.null(args$weights)) cl$weights <- data[[args$weights]]
  do.call(survfit, cl)
}

ref_rmean <- function(data, args) {
  f <- .survfit_w(data, args)
  tab <- summary(f, rmean = args$tau)$table
  r <- unname(tab[, "rmean"]); s <- unname(tab[, "se(rmean)"])
  if (identical(args$variance, "robust")) {
    # infinitesimal jackknife per arm: the weighted IJ residuals of the sojourn time (RMST)
    f1 <- as.formula(args$formula)
    arm <- all.vars(f1[[3]])
    s <- vapply(sort(unique(data[[arm]])), function(a) {
      sel <- data[[arm]] == a
      fk <- do.call(survfit, list(formula = update(f1, . ~ 1), data = data[sel, , drop = FALSE],
                                  weights = data[[args$weights]][sel]))
      sqrt(sum(resid(fk, times = args$tau, type = "sojourn", weighted = TRUE)^2))
    }, numeric(1))
  }
  z <- qnorm(0.975)
  d <- r[2] - r[1]; sd <- sqrt(s[1]^2 + s[2]^2)
  lr <- log(r[2] / r[1]); sl <- sqrt(s[2]^2 / r[2]^2 + s[1]^2 / r[1]^2)
  list(rmean = r, se_rmean = s,
       estimate = c(d, exp(lr)), std_error = c(sd, sl), statistic = c(d / sd, lr / sl),
       p_value = 2 * pnorm(-abs(c(d / sd, lr / sl))),
       conf_low = c(d - z * sd, exp(lr - z * sl)), conf_high = c(d + z * sd, exp(lr + z * sl)))
}

# the real survRM2::rmst2 (unweighted; arm = the 0/1 column args$arm)
ref_rmst2 <- function(data, args) {
  r <- survRM2::rmst2(data[[args$time]], data[[args$status]], data[[args$arm]], tau = args$tau)
  u <- r$unadjusted.result
  list(rmean = c(r$RMST.arm0$result["RMST", "Est."], r$RMST.arm1$result["RMST", "Est."]),
       se_rmean = c(r$RMST.arm0$result["RMST", "se"], r$RMST.arm1$result["RMST", "se"]),
       arm_lower = c(r$RMST.arm0$result["RMST", "lower .95"], r$RMST.arm1$result["RMST", "lower .95"]),
       arm_upper = c(r$RMST.arm0$result["RMST", "upper .95"], r$RMST.arm1$result["RMST", "upper .95"]),
       estimate = unname(u[1:2, "Est."]), conf_low = unname(u[1:2, "lower .95"]),
       conf_high = unname(u[1:2, "upper .95"]), p_value = unname(u[1:2, "p"]))
}

# --- survival / cumulative incidence at horizons: summary(survfit, times) per arm, the
# difference (second stratum minus first) with sqrt(se1^2 + se0^2)
ref_surv_difference <- function(data, args) {
  f <- .survfit_w(data, args)
  times <- unlist(args$times)
  s <- summary(f, times = times)
  st <- as.character(s$strata)
  lv <- names(f$strata)
  if (is.null(args$state)) {
    v <- s$surv; se <- s$std.err
    if (identical(args$measure, "risk")) v <- 1 - v
  } else {
    k <- match(args$state, f$states)
    v <- s$pstate[, k]; se <- s$std.err[, k]
  }
  v0 <- v[st == lv[1]]; v1 <- v[st == lv[2]]
  e0 <- se[st == lv[1]]; e1 <- se[st == lv[2]]
  est <- v1 - v0; sd <- sqrt(e1^2 + e0^2); z <- qnorm(0.975)
  list(estimate = est, std_error = sd, statistic = est / sd, p_value = 2 * pnorm(-abs(est / sd)),
       conf_low = est - z * sd, conf_high = est + z * sd, arm0 = v0, arm1 = v1,
       se0 = e0, se1 = e1)
}

# --- E-values (VanderWeele & Ding 2017, Ann Intern Med 167:268): a base-R restatement of the
# paper's formulas, because the EValue package does not install here (needs metafor, dplyr).
# E(RR) = RR + sqrt(RR (RR - 1)) for RR >= 1 (else of 1 / RR); the CI limit closest to 1, or 1
# when the interval includes 1; common outcomes: OR -> sqrt(OR),
# HR -> (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1 / HR)).
ref_evalue <- function(data, args) {
  e1 <- function(x) { if (x < 1) x <- 1 / x; x + sqrt(x * (x - 1)) }
  conv <- function(x) {
    if (is.null(x)) return(NULL)
    if (args$measure == "RR" || isTRUE(args$rare)) return(x)
    if (args$measure == "OR") return(sqrt(x))
    (1 - 0.5^sqrt(x)) / (1 - 0.5^sqrt(1 / x))
  }
  rr <- conv(args$estimate); lo <- conv(args$lower); hi <- conv(args$upper)
  ci <- if (rr > 1) { if (is.null(lo) || lo <= 1) 1 else e1(lo) }
        else if (rr < 1) { if (is.null(hi) || hi >= 1) 1 else e1(hi) } else 1
  out <- list(rr = rr, point = e1(rr), ci = ci)
  if (!is.null(lo)) out$rr_lower <- lo
  if (!is.null(hi)) out$rr_upper <- hi
  out
}

# --- subgroups: svyglm on a domain of the whole design (weights kept) or on the subgroup with
# weights re-estimated by the real WeightIt; interaction by survey::regTermTest (Wald)
ref_subgroups <- function(data, args) {
  data <- .factors(data)
  mod <- args$modifier; trt <- args$treatment
  lv <- if (is.factor(data[[mod]])) levels(data[[mod]]) else sort(unique(data[[mod]]))
  fam <- get(args$family)()
  est <- se <- tv <- p <- lo <- hi <- numeric(0)
  wall <- if (isTRUE(args$reestimate)) rep(0, nrow(data)) else data[[args$weights]]
  for (l in lv) {
    sel <- data[[mod]] == l
    if (isTRUE(args$reestimate)) {
      sub <- data[sel, , drop = FALSE]
      W <- WeightIt::weightit(as.formula(args$ps_formula), data = sub, method = "glm",
                              estimand = args$estimand)
      wall[sel] <- W$weights
      sub$.w <- W$weights
      des <- svydesign(ids = ~1, weights = ~.w, data = sub)
    } else {
      data$.w <- data[[args$weights]]
      des <- svydesign(ids = ~1, weights = ~.w, data = data)[sel, ]
    }
    fit <- suppressWarnings(svyglm(as.formula(args$formula), design = des, family = fam))
    cf <- coef(summary(fit))[trt, ]
    ci <- confint(fit)[trt, ]
    est <- c(est, cf[1]); se <- c(se, cf[2]); tv <- c(tv, cf[3]); p <- c(p, cf[4])
    lo <- c(lo, ci[1]); hi <- c(hi, ci[2])
  }
  data[[mod]] <- factor(data[[mod]], levels = lv)
  data$.wall <- wall
  des <- svydesign(ids = ~1, weights = ~.wall, data = data)
  rhs <- strsplit(args$formula, "~")[[1]]
  f2 <- as.formula(paste(rhs[1], "~", rhs[2], "+", trt, "*", mod))
  full <- suppressWarnings(svyglm(f2, design = des, family = fam))
  rt <- regTermTest(full, as.formula(paste0("~", trt, ":", mod)))
  ex <- if (args$family %in% c("quasibinomial", "binomial")) exp else identity
  list(estimate = unname(ex(est)), std_error = unname(se), statistic = unname(tv),
       p_value = unname(p), conf_low = unname(ex(lo)), conf_high = unname(ex(hi)),
       F = unname(rt$Ftest[1]), df = unname(rt$df), ddf = unname(rt$ddf), p_interaction = unname(rt$p[1]))
}
