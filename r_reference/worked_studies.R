# The worked studies (NHEFS, Rotterdam, Lalonde) end to end in R, from the spec's own R text:
# derived columns and eligibility rules are evaluated with eval(parse(text = ...)) exactly as
# written in the spec (so the spec's R expressions are checked against R itself), weights from
# the real WeightIt, balance from cobalt, then survey and survival as a statistician would.
suppressPackageStartupMessages({
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
  }
  for (k in unlist(args$skip)) out[[k]] <- NULL
  out
}
