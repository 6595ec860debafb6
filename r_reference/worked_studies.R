# The worked studies (NHEFS, Rotterdam, Lalonde) end to end in R, from the spec's own R text:
# derived columns and eligibility rules are evaluated with eval(parse(text = ...)) exactly as
# written in the spec (so the spec's R expressions are checked against R itself), weights from
# the real WeightIt, balance from cobalt, then survey and survival as a statistician would.
suppressPackageStartupMessages({
  library(splines)  # ns() / bs() in a spec's propensity terms
  library(survey)
  library(survival)
  library(WeightIt)
  library(cobalt)
})

.ws_fac <- function(data) {
  for (v in names(data)) if (inherits(data[[v]], "factor")) class(data[[v]]) <- class(data[[v]])
  data
}

.ws_cat_p <- function(x, trt) {  # chisq.test (Yates for 2x2), Fisher when an expected count < 5
  tab <- table(x, trt)
  tab <- tab[rowSums(tab) > 0, , drop = FALSE]
  ct <- suppressWarnings(chisq.test(tab))
  if (any(ct$expected < 5)) fisher.test(tab)$p.value else ct$p.value
}

.ws_q <- function(design, v, probs) {
  unname(coef(svyquantile(as.formula(paste("~", v)), design, probs, ci = FALSE)))
}

# --- issue 13's effect measures (same R as r_reference/study.R, own names: both files may be
# sourced into one session)
.ws_evalue <- function(est, lo, hi, measure, rare = NULL) {  # the paper's formulas (EValue
  e1 <- function(x) { if (x < 1) x <- 1 / x; x + sqrt(x * (x - 1)) }  # does not install here)
  conv <- function(x) {
    if (measure == "RR" || isTRUE(rare)) x else if (measure == "OR") sqrt(x)
    else (1 - 0.5^sqrt(x)) / (1 - 0.5^sqrt(1 / x))
  }
  rr <- conv(est); l <- conv(lo); h <- conv(hi)
  ci <- if (rr > 1) { if (l <= 1) 1 else e1(l) } else if (rr < 1) { if (h >= 1) 1 else e1(h) } else 1
  c(point = e1(rr), ci = ci)
}

.ws_no_wts_advice <- function(expr) {  # the average is unweighted on purpose (WeightIt's vignette)
  withCallingHandlers(expr, warning = function(w) {
    if (grepl("specify weights using the `wts` argument", conditionMessage(w), fixed = TRUE))
      invokeRestart("muffleWarning")
  })
}

# g-computation with the real marginaleffects on the svyglm fit: target all / treated /
# controls by the estimand, unweighted; ATO / ATM averaged with the weights
.ws_gcomp <- function(fit, data, trt, estimand, w) {
  nd <- data; wts <- FALSE
  if (estimand == "ATT") nd <- data[data[[trt]] == 1, , drop = FALSE]
  if (estimand == "ATC") nd <- data[data[[trt]] == 0, , drop = FALSE]
  if (estimand %in% c("ATO", "ATM")) wts <- w
  d <- .ws_no_wts_advice(marginaleffects::avg_comparisons(fit, variables = trt, newdata = nd,
                                                           wts = wts))
  r <- .ws_no_wts_advice(marginaleffects::avg_comparisons(
    fit, variables = trt, newdata = nd, wts = wts, comparison = "lnratioavg", transform = "exp"))
  c(rd = d$estimate, rd_se = d$std.error, rd_lower = d$conf.low, rd_upper = d$conf.high,
    rd_p = d$p.value, rr = r$estimate, rr_lower = r$conf.low, rr_upper = r$conf.high,
    rr_p = r$p.value)
}

# RMST per arm (summary(survfit, rmean = tau)) with the IJ SE of each weighted arm
# (resid(type = "sojourn")); survival differences at the horizons (SE sqrt(se1^2 + se0^2))
.ws_surv_effects <- function(f, data, surv, trt, tau, horizons) {
  z <- qnorm(0.975)
  r <- unname(summary(f, rmean = tau)$table[, "rmean"])
  fo <- as.formula(paste(surv, "~ 1"))
  s <- numeric(2)
  for (a in 0:1) {
    dk <- data[data[[trt]] == a, , drop = FALSE]
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

# subgroups: svyglm within each level (a domain of the whole design, or its own design with
# weights re-estimated by the real WeightIt), interaction by survey::regTermTest
.ws_subgroups <- function(data, sg, trt, estimand) {
  mod <- sg$modifier
  lv <- if (is.factor(data[[mod]])) levels(data[[mod]]) else sort(unique(data[[mod]]))
  fam <- get(sg$family)()
  re <- identical(sg$weights, "reestimate")
  res <- c(); wall <- if (re) rep(0, nrow(data)) else data$.w
  for (k in seq_along(lv)) {
    l <- lv[k]
    sel <- data[[mod]] == l
    if (re) {
      sub <- data[sel, , drop = FALSE]
      W <- weightit(as.formula(sg$ps_formula), data = sub, method = "glm", estimand = estimand)
      wall[sel] <- W$weights
      sub$.w <- W$weights
      des <- svydesign(ids = ~1, weights = ~.w, data = sub)
    } else {
      des <- svydesign(ids = ~1, weights = ~.w, data = data)[sel, ]
    }
    fit <- svyglm(as.formula(sg$formula), design = des, family = fam)
    cf <- coef(summary(fit))[trt, ]; ci <- confint(fit)[trt, ]
    ex <- if (sg$family == "quasibinomial") exp else identity
    res[paste0("level", k, c("_estimate", "_se", "_lower", "_upper", "_p"))] <-
      c(ex(cf[[1]]), cf[[2]], ex(ci[[1]]), ex(ci[[2]]), cf[[4]])
  }
  data[[mod]] <- factor(data[[mod]], levels = lv)
  data$.wall <- wall
  des <- svydesign(ids = ~1, weights = ~.wall, data = data)
  rhs <- strsplit(sg$formula, "~")[[1]]
  full <- svyglm(as.formula(paste(rhs[1], "~", rhs[2], "+", trt, "*", mod)), design = des,
                 family = fam)
  rt <- regTermTest(full, as.formula(paste0("~", trt, ":", mod)))
  c(res, interaction_f = unname(rt$Ftest[1]), interaction_p = unname(rt$p[1]))
}

ref_worked_study <- function(data, args) {
  data <- .ws_fac(data)
  trt <- args$treatment
  out <- list()
  for (d in args$derived) data[[d$name]] <- eval(parse(text = d$value), data)
  # eligibility: subset() semantics (an NA rule excludes the row)
  remaining <- nrow(data); treated <- sum(data[[trt]] == 1)
  for (st in args$rules) {
    keep <- eval(parse(text = st$rule), data)
    keep <- !is.na(keep) & keep
    if (st$applies_to == "control") keep <- keep | data[[trt]] == 1
    if (st$applies_to == "treated") keep <- keep | data[[trt]] == 0
    data <- data[keep, , drop = FALSE]
    remaining <- c(remaining, nrow(data)); treated <- c(treated, sum(data[[trt]] == 1))
  }
  if (identical(args$missing, "complete")) {  # the spec's missing = "complete"
    data <- data[complete.cases(data[, unlist(args$model_columns), drop = FALSE]), , drop = FALSE]
    remaining <- c(remaining, nrow(data)); treated <- c(treated, sum(data[[trt]] == 1))
  }
  rownames(data) <- NULL
  out$flow_remaining <- remaining; out$flow_treated <- treated

  W <- weightit(as.formula(args$ps_formula), data = data, method = "glm",
                estimand = args$estimand,
                missing = if (identical(args$missing, "indicator")) "ind" else NULL)
  data$.w <- W$weights
  out$weights <- W$weights
  sw <- summary(W)
  out$ess <- c(control = unname(sw$effective.sample.size["Weighted", "Control"]),
               treated = unname(sw$effective.sample.size["Weighted", "Treated"]))
  b <- bal.tab(W, un = TRUE, binary = "std", continuous = "std",
               stats = c("mean.diffs", "variance.ratios"))$Balance
  out$smd_unweighted <- setNames(b$Diff.Un, rownames(b))
  out$smd_weighted <- setNames(b$Diff.Adj, rownames(b))
  d <- svydesign(ids = ~1, weights = ~.w, data = data)
  arm <- data[[trt]]

  # Table 1
  p_unw <- c(); p_w <- c(); med_c <- c(); med_t <- c(); wq_c <- c(); wq_t <- c()
  for (v in unlist(args$t1_continuous)) {
    x <- data[[v]]
    p_unw[v] <- wilcox.test(x[arm == 1], x[arm == 0])$p.value
    p_w[v] <- svyranktest(as.formula(paste(v, "~", trt)), d)$p.value
    med_c[v] <- quantile(x[arm == 0], 0.5); med_t[v] <- quantile(x[arm == 1], 0.5)
    wq_c[v] <- .ws_q(subset(d, arm == 0), v, 0.5); wq_t[v] <- .ws_q(subset(d, arm == 1), v, 0.5)
  }
  wpct_c <- c(); wpct_t <- c()
  for (v in unlist(args$t1_categorical)) {
    x <- data[[v]]
    p_unw[v] <- .ws_cat_p(x, arm)
    p_w[v] <- unname(svychisq(as.formula(paste("~", v, "+", trt)), d)$p.value)
    binary <- v %in% unlist(args$t1_binary)
    lv <- if (binary) 1 else if (is.factor(x)) levels(x) else sort(unique(x))
    for (l in lv) {
      key <- if (binary) v else paste0(v, "_", l)
      dd <- update(d, .ind = as.numeric(data[[v]] == l))
      wpct_c[key] <- 100 * unname(coef(svymean(~.ind, subset(dd, arm == 0))))
      wpct_t[key] <- 100 * unname(coef(svymean(~.ind, subset(dd, arm == 1))))
    }
  }
  # Table 1 SMDs: cobalt with a pooled SD; categorical rows per level (as factors)
  t1 <- data
  t1vars <- c(unlist(args$t1_continuous), unlist(args$t1_categorical))
  for (v in setdiff(unlist(args$t1_categorical), unlist(args$t1_binary))) t1[[v]] <- factor(t1[[v]])
  bt <- bal.tab(as.formula(paste(trt, "~", paste(t1vars, collapse = " + "))), data = t1,
                weights = data$.w, s.d.denom = "pooled", binary = "std", continuous = "std",
                un = TRUE)$Balance
  out$t1_smd_unweighted <- setNames(bt$Diff.Un, rownames(bt))
  out$t1_smd_weighted <- setNames(bt$Diff.Adj, rownames(bt))
  out$t1_p_unweighted <- p_unw; out$t1_p_weighted <- p_w
  out$t1_median_control <- med_c; out$t1_median_treated <- med_t
  out$t1_wmedian_control <- wq_c; out$t1_wmedian_treated <- wq_t
  out$t1_wpct_control <- wpct_c; out$t1_wpct_treated <- wpct_t

  rhs <- function(adj) paste(c(trt, unlist(adj)), collapse = " + ")
  # continuous outcomes: weighted means per arm, svyglm gaussian difference
  for (o in names(args$continuous)) {
    s <- args$continuous[[o]]
    f <- as.formula(paste("~", s$column))
    m0 <- svymean(f, subset(d, arm == 0)); m1 <- svymean(f, subset(d, arm == 1))
    fit <- svyglm(as.formula(paste(s$column, "~", rhs(s$adjust))), d, family = gaussian())
    ci <- confint(fit)
    out[[paste0("cont_", o)]] <- c(
      mean_control = unname(coef(m0)), se_control = unname(SE(m0)),
      mean_treated = unname(coef(m1)), se_treated = unname(SE(m1)),
      estimate = unname(coef(fit)[trt]), se = unname(SE(fit)[trt]),
      lower = ci[trt, 1], upper = ci[trt, 2],
      p = summary(fit)$coefficients[trt, 4])
  }
  # binary outcomes: the definition evaluated by R; weighted rates, Rao-Scott p, svyglm OR
  for (o in names(args$binary)) {
    s <- args$binary[[o]]
    col <- paste0(".o_", o)
    d <- update(d, .y = as.integer(eval(parse(text = s$definition), data)))
    names(d$variables)[names(d$variables) == ".y"] <- col
    f <- as.formula(paste("~", col))
    fit <- svyglm(as.formula(paste(col, "~", rhs(s$adjust))), d, family = quasibinomial())
    ci <- confint(fit)
    out[[paste0("bin_", o)]] <- c(
      rate_control = 100 * unname(coef(svymean(f, subset(d, arm == 0)))),
      rate_treated = 100 * unname(coef(svymean(f, subset(d, arm == 1)))),
      p_rate = unname(svychisq(as.formula(paste("~", col, "+", trt)), d)$p.value),
      or = exp(unname(coef(fit)[trt])), lower = exp(ci[trt, 1]), upper = exp(ci[trt, 2]),
      p = summary(fit)$coefficients[trt, 4])
    g <- .ws_gcomp(fit, d$variables, trt, args$estimand, data$.w)
    b <- out[[paste0("bin_", o)]]
    out[[paste0("effects_", o)]] <- c(
      g, evalue_rr = .ws_evalue(g[["rr"]], g[["rr_lower"]], g[["rr_upper"]], "RR"),
      if (!is.null(s$rare)) c(evalue_or = .ws_evalue(b[["or"]], b[["lower"]], b[["upper"]],
                                                     "OR", s$rare)))
    data[[col]] <- d$variables[[col]]
  }
  # time to event: weighted KM, survival at the horizons, svylogrank, weighted Cox (robust)
  for (o in names(args$tte)) {
    s <- args$tte[[o]]
    surv <- paste0("Surv(", s$time, ", ", s$event, ")")
    f <- survfit(as.formula(paste(surv, "~", trt)), data = data, weights = .w)
    tab <- summary(f)$table
    st <- summary(f, times = unlist(args$horizons), extend = FALSE)
    res <- c(median_control = unname(tab[1, "median"]), median_treated = unname(tab[2, "median"]))
    for (h in unlist(args$horizons)) {
      for (g in 0:1) {
        k <- which(st$time == h & st$strata == paste0(trt, "=", g))
        res[paste0("surv_", h, "_", c("control", "treated")[g + 1])] <-
          if (length(k)) st$surv[k] else NA
      }
    }
    res["logrank_p"] <- svylogrank(as.formula(paste(surv, "~", trt)), d)[[2]][["p"]]
    fit <- coxph(as.formula(paste(surv, "~", rhs(s$adjust))), data = data, weights = .w,
                 robust = TRUE)
    sm <- summary(fit)
    res["hr"] <- sm$conf.int[trt, 1]; res["hr_lower"] <- sm$conf.int[trt, 3]
    res["hr_upper"] <- sm$conf.int[trt, 4]; res["hr_p"] <- sm$coefficients[trt, "Pr(>|z|)"]
    out[[paste0("tte_", o)]] <- res
    out[[paste0("surv_effects_", o)]] <- c(
      .ws_surv_effects(f, data, surv, trt, args$tau, unlist(args$horizons)),
      if (!is.null(s$rare)) c(evalue_hr = .ws_evalue(res[["hr"]], res[["hr_lower"]],
                                                     res[["hr_upper"]], "HR", s$rare)))
  }
  for (i in seq_along(args$subgroups)) {
    sg <- args$subgroups[[i]]
    out[[paste0("subgroups_", i)]] <- .ws_subgroups(data, sg, trt, args$estimand)
  }
  for (k in unlist(args$skip)) out[[k]] <- NULL
  out
}
