# The reference study end to end in R: what a statistician would write with WeightIt's glm
# weights (stated in base R: WeightIt is not installable here), survey, survival and stats;
# marginal effects with the real marginaleffects on the svyglm fits.
# Each function(data, args) -> named list; the Python side is carts_iptw.study.pipeline's steps.
suppressPackageStartupMessages({
  library(survey)
  library(survival)
})

.fac <- function(data) {
  for (v in names(data)) if (inherits(data[[v]], "factor")) class(data[[v]]) <- class(data[[v]])
  data
}

# ATE weights from a logistic propensity score, R's default glm fit (WeightIt method = "glm")
.ate_weights <- function(data, args) {
  fit <- glm(as.formula(args$ps_formula), data = data, family = binomial())
  ps <- fitted(fit)
  trt <- data[[args$treatment]]
  ifelse(trt == 1, 1 / ps, 1 / (1 - ps))
}

# unweighted Table 1 test: chisq.test (Yates for 2x2), Fisher when an expected count < 5
.cat_p <- function(x, trt) {
  tab <- table(x, trt)
  tab <- tab[rowSums(tab) > 0, , drop = FALSE]
  ct <- suppressWarnings(chisq.test(tab))
  if (any(ct$expected < 5)) fisher.test(tab)$p.value else ct$p.value
}

.q <- function(design, v, probs) {
  unname(coef(svyquantile(as.formula(paste("~", v)), design, probs, ci = FALSE)))
}

# E-value (VanderWeele & Ding 2017): a base-R restatement of the paper's formulas (the EValue
# package does not install here: it needs metafor and dplyr); OR / HR on the RR scale unless
# rare (OR -> sqrt(OR), HR -> (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)))
.st_evalue <- function(est, lo, hi, measure, rare = NULL) {
  e1 <- function(x) { if (x < 1) x <- 1 / x; x + sqrt(x * (x - 1)) }
  conv <- function(x) {
    if (measure == "RR" || isTRUE(rare)) x else if (measure == "OR") sqrt(x)
    else (1 - 0.5^sqrt(x)) / (1 - 0.5^sqrt(1 / x))
  }
  rr <- conv(est); l <- conv(lo); h <- conv(hi)
  ci <- if (rr > 1) { if (l <= 1) 1 else e1(l) } else if (rr < 1) { if (h >= 1) 1 else e1(h) } else 1
  c(point = e1(rr), ci = ci)
}

# marginal risk difference and ratio: g-computation with the real marginaleffects on the
# svyglm fit (WeightIt's vignette's targets: all / treated / controls, unweighted; ATO / ATM
# averaged with the weights)
# marginaleffects advises `wts` for svyglm fits; the average here is deliberately unweighted
# over the target population (WeightIt's vignette): that one advice is muffled, nothing else
.st_no_wts_advice <- function(expr) {
  withCallingHandlers(expr, warning = function(w) {
    if (grepl("specify weights using the `wts` argument", conditionMessage(w), fixed = TRUE))
      invokeRestart("muffleWarning")
  })
}

.st_gcomp <- function(fit, data, trt, estimand, w) {
  nd <- data; wts <- FALSE
  if (estimand == "ATT") nd <- data[data[[trt]] == 1, , drop = FALSE]
  if (estimand == "ATC") nd <- data[data[[trt]] == 0, , drop = FALSE]
  if (estimand %in% c("ATO", "ATM")) wts <- w
  d <- .st_no_wts_advice(marginaleffects::avg_comparisons(fit, variables = trt, newdata = nd,
                                                           wts = wts))
  r <- .st_no_wts_advice(marginaleffects::avg_comparisons(
    fit, variables = trt, newdata = nd, wts = wts, comparison = "lnratioavg", transform = "exp"))
  c(rd = d$estimate, rd_se = d$std.error, rd_lower = d$conf.low, rd_upper = d$conf.high,
    rd_p = d$p.value, rr = r$estimate, rr_lower = r$conf.low, rr_upper = r$conf.high,
    rr_p = r$p.value)
}

# RMST up to tau per arm (summary(survfit, rmean = tau)), the infinitesimal-jackknife SE of
# each weighted arm (resid(type = "sojourn")), the difference treated - control; survival
# differences at the horizons (summary(survfit, times), SE sqrt(se1^2 + se0^2))
.st_surv_effects <- function(f, data, surv, trt, tau, horizons) {
  z <- qnorm(0.975)
  r <- unname(summary(f, rmean = tau)$table[, "rmean"])
  fo <- as.formula(paste(surv, "~ 1"))
  s <- numeric(2)
  for (a in 0:1) {
    dk <- data[data[[trt]] == a, , drop = FALSE]
    # do.call puts the objects in the call: resid.survfit re-evaluates x$call
    fk <- do.call(survfit, list(formula = fo, data = dk, weights = dk$.w))
    s[a + 1] <- sqrt(sum(resid(fk, times = tau, type = "sojourn", weighted = TRUE)^2))
  }
  d <- r[2] - r[1]; sd <- sqrt(s[1]^2 + s[2]^2)
  out <- c(rmst_control = r[1], rmst_treated = r[2], rmst_diff = d, rmst_se = sd,
           rmst_lower = d - z * sd, rmst_upper = d + z * sd, rmst_p = 2 * pnorm(-abs(d / sd)))
  st <- summary(f, times = horizons, extend = FALSE)
  for (h in horizons) {
    k0 <- which(st$time == h & st$strata == paste0(trt, "=0"))
    k1 <- which(st$time == h & st$strata == paste0(trt, "=1"))
    e <- st$surv[k1] - st$surv[k0]; se <- sqrt(st$std.err[k1]^2 + st$std.err[k0]^2)
    out[paste0("sdiff_", h, c("", "_se", "_lower", "_upper", "_p"))] <-
      c(e, se, e - z * se, e + z * se, 2 * pnorm(-abs(e / se)))
  }
  out
}

ref_study <- function(data, args) {
  data <- .fac(data)
  trt <- args$treatment
  data$.w <- .ate_weights(data, args)
  d <- svydesign(ids = ~1, weights = ~.w, data = data)
  arm <- data[[trt]]
  out <- list(weights = data$.w)

  # Table 1
  p_unw <- c(); p_w <- c(); med_c <- c(); med_t <- c(); wq_c <- c(); wq_t <- c()
  for (v in unlist(args$t1_continuous)) {
    x <- data[[v]]
    p_unw[v] <- wilcox.test(x[arm == 1], x[arm == 0])$p.value
    p_w[v] <- svyranktest(as.formula(paste(v, "~", trt)), d)$p.value
    med_c[v] <- quantile(x[arm == 0], 0.5); med_t[v] <- quantile(x[arm == 1], 0.5)
    wq_c[v] <- .q(subset(d, arm == 0), v, 0.5); wq_t[v] <- .q(subset(d, arm == 1), v, 0.5)
  }
  wpct_c <- c(); wpct_t <- c()
  for (v in unlist(args$t1_categorical)) {
    x <- data[[v]]
    p_unw[v] <- .cat_p(x, arm)
    p_w[v] <- svychisq(as.formula(paste("~", v, "+", trt)), d)$p.value
    lv <- if (is.factor(x)) levels(x) else 1
    for (l in lv) {
      key <- if (is.factor(x)) paste0(v, "_", l) else v
      dd <- update(d, .ind = as.numeric(data[[v]] == l))
      wpct_c[key] <- 100 * unname(coef(svymean(~.ind, subset(dd, arm == 0))))
      wpct_t[key] <- 100 * unname(coef(svymean(~.ind, subset(dd, arm == 1))))
    }
  }
  out$t1_p_unweighted <- p_unw; out$t1_p_weighted <- p_w
  out$t1_median_control <- med_c; out$t1_median_treated <- med_t
  out$t1_wmedian_control <- wq_c; out$t1_wmedian_treated <- wq_t
  out$t1_wpct_control <- wpct_c; out$t1_wpct_treated <- wpct_t

  # binary outcomes: weighted rates, Rao-Scott p, adjusted OR (svyglm quasibinomial)
  adj <- unlist(args$adjust)
  rate_c <- c(); rate_t <- c(); p_b <- c(); or <- c(); or_lo <- c(); or_hi <- c(); or_p <- c()
  for (o in unlist(args$binary)) {
    col <- paste0("o_", o)
    rate_c[o] <- 100 * unname(coef(svymean(as.formula(paste("~", col)), subset(d, arm == 0))))
    rate_t[o] <- 100 * unname(coef(svymean(as.formula(paste("~", col)), subset(d, arm == 1))))
    p_b[o] <- svychisq(as.formula(paste("~", col, "+", trt)), d)$p.value
    fit <- svyglm(as.formula(paste(col, "~", paste(c(trt, adj), collapse = " + "))), d,
                  family = quasibinomial())
    ci <- confint(fit)
    or[o] <- exp(coef(fit)[[trt]]); or_lo[o] <- exp(ci[trt, 1]); or_hi[o] <- exp(ci[trt, 2])
    or_p[o] <- summary(fit)$coefficients[trt, 4]
    g <- .st_gcomp(fit, data, trt, "ATE", data$.w)
    out[[paste0("effects_", o)]] <- c(
      g, evalue_rr = .st_evalue(g[["rr"]], g[["rr_lower"]], g[["rr_upper"]], "RR"),
      evalue_or = .st_evalue(or[[o]], or_lo[[o]], or_hi[[o]], "OR", args$rare[[o]]))
  }
  out$rate_control <- rate_c; out$rate_treated <- rate_t; out$rate_p <- p_b
  out$or <- or; out$or_lower <- or_lo; out$or_upper <- or_hi; out$or_p <- or_p

  # durations / counts among a subgroup: weighted medians and the weighted rank test
  dm_c <- c(); dm_t <- c(); dp <- c()
  for (o in names(args$distribution)) {
    spec <- args$distribution[[o]]
    sub <- subset(d, data[[spec$among]] == 1)
    subc <- subset(d, data[[spec$among]] == 1 & arm == 0)
    subt <- subset(d, data[[spec$among]] == 1 & arm == 1)
    dm_c[o] <- .q(subc, spec$column, 0.5); dm_t[o] <- .q(subt, spec$column, 0.5)
    dp[o] <- svyranktest(as.formula(paste(spec$column, "~", trt)), sub)$p.value
  }
  out$dist_median_control <- dm_c; out$dist_median_treated <- dm_t; out$dist_p <- dp

  # time to event: weighted KM, svylogrank, weighted Cox (robust)
  km_c <- c(); km_t <- c(); s12_c <- c(); s12_t <- c(); lr <- c()
  hr <- c(); hr_lo <- c(); hr_hi <- c(); hr_p <- c()
  for (o in names(args$tte)) {
    spec <- args$tte[[o]]
    surv <- paste0("Surv(", spec$time, ", ", spec$event, ")")
    f <- survfit(as.formula(paste(surv, "~", trt)), data = data, weights = .w)
    tab <- summary(f)$table
    km_c[o] <- tab[1, "median"]; km_t[o] <- tab[2, "median"]
    st <- summary(f, times = args$horizon)
    s12_c[o] <- st$surv[1]; s12_t[o] <- st$surv[2]
    lr[o] <- svylogrank(as.formula(paste(surv, "~", trt)), d)[[2]][["p"]]
    rhs <- paste(c(trt, if (isTRUE(spec$adjusted)) adj), collapse = " + ")
    fit <- coxph(as.formula(paste(surv, "~", rhs)), data = data, weights = .w, robust = TRUE)
    s <- summary(fit)
    hr[o] <- s$conf.int[trt, 1]; hr_lo[o] <- s$conf.int[trt, 3]; hr_hi[o] <- s$conf.int[trt, 4]
    hr_p[o] <- s$coefficients[trt, "Pr(>|z|)"]
    out[[paste0("surv_effects_", o)]] <- c(
      .st_surv_effects(f, data, surv, trt, args$tau, unlist(args$horizons)),
      evalue_hr = .st_evalue(hr[[o]], hr_lo[[o]], hr_hi[[o]], "HR", args$rare[[o]]))
  }
  cif_c <- c(); cif_t <- c()
  for (o in names(args$cs_cox)) {  # cumulative incidence and cause-specific Cox
    spec <- args$cs_cox[[o]]
    f <- survfit(as.formula(paste("Surv(cr_time, cr_state) ~", trt)), data = data, weights = .w)
    sm <- summary(f, times = spec$horizon)
    k <- which(sm$states == "event")
    cif_c[o] <- sm$pstate[1, k]; cif_t[o] <- sm$pstate[2, k]
    surv <- paste0("Surv(", spec$time, ", ", spec$event, ")")
    rhs <- paste(c(trt, if (isTRUE(spec$adjusted)) adj), collapse = " + ")
    fit <- coxph(as.formula(paste(surv, "~", rhs)), data = data, weights = .w, robust = TRUE)
    s <- summary(fit)
    hr[o] <- s$conf.int[trt, 1]; hr_lo[o] <- s$conf.int[trt, 3]; hr_hi[o] <- s$conf.int[trt, 4]
    hr_p[o] <- s$coefficients[trt, "Pr(>|z|)"]
    out[[paste0("evalue_hr_", o)]] <- .st_evalue(hr[[o]], hr_lo[[o]], hr_hi[[o]], "HR",
                                                 args$rare[[o]])
  }
  out$cif_control <- cif_c; out$cif_treated <- cif_t
  out$km_median_control <- km_c; out$km_median_treated <- km_t
  out$surv_h_control <- s12_c; out$surv_h_treated <- s12_t; out$logrank_p <- lr
  out$hr <- hr; out$hr_lower <- hr_lo; out$hr_upper <- hr_hi; out$hr_p <- hr_p
  out
}
