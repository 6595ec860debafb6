# Base-R statements of cobalt's bal.tab() computations (cobalt 4.6.1) for a binary treatment and
# weights from WeightIt's logistic propensity score (restated as in weighting.R), optional
# sampling weights (args$s_weights names a column): they weight the unadjusted sample, the
# standardisation factors and, times the balancing weights, the adjusted sample.
# Facts (not code) from cobalt's sources (col_w_smd, col_w_sd, col.w.v, col_w_vr, col_w_ks,
# .get_s.d.denom, .compute_s.d.denom, balance_table, samplesize, get_covs_from_formula):
# - weighted variance of a continuous column: sum(w (x - xbar)^2) / (1 - sum(w^2)), w summing to 1;
#   of a binary column: p (1 - p);
# - SMD denominators from the sample weighted by sampling weights only (here: none), one per
#   column, used for unadjusted and adjusted differences; "weighted" uses the balancing weights;
# - s.d.denom from the estimand: ATE pooled, ATT treated, ATC control, ATO/ATM weighted;
# - KS: largest distance between the weighted empirical CDFs; binary: difference in proportions;
# - factors split into one column per level; two-valued variables coded 0/1 keep their name.

.bt_treat01 <- function(x) {
  if (is.factor(x)) return(as.numeric(x == levels(droplevels(x))[2]))
  as.numeric(x)
}

.bt_sw <- function(data, args) {
  if (is.null(args$s_weights)) rep(1, nrow(data)) else as.numeric(data[[args$s_weights]])
}

.bt_weights <- function(data, args, treat) {
  f <- as.formula(args$formula)
  data$.treat01 <- treat
  data$.sw <- .bt_sw(data, args)
  fit <- glm(update(f, .treat01 ~ .), data = data, weights = .sw, mustart = 0.25 + 0.5 * treat,
             family = quasibinomial())
  ps <- unname(fit$fitted.values)
  w <- switch(args$estimand,
    ATE = ifelse(treat == 1, 1 / ps, 1 / (1 - ps)),
    ATT = ifelse(treat == 1, 1, ps / (1 - ps)),
    ATC = ifelse(treat == 1, (1 - ps) / ps, 1),
    ATO = ifelse(treat == 1, 1 - ps, ps),
    ATM = ifelse(treat == 1, pmin(ps, 1 - ps) / ps, pmin(ps, 1 - ps) / (1 - ps)))
  if (isTRUE(args$stabilize)) {  # WeightIt >= 1.0: ATE only, sampling-weighted group share
    p1 <- sum(data$.sw * treat) / sum(data$.sw)
    w <- w * ifelse(treat == 1, p1, 1 - p1)
  }
  list(ps = ps, w = w)
}

.bt_covariates <- function(f, data) {
  vars <- as.list(attr(terms(f), "variables"))[-c(1, 2)]
  cols <- list()
  for (e in vars) {
    nm <- paste(deparse(e), collapse = "")
    x <- eval(e, data, environment(f))
    if (is.character(x) || is.logical(x)) x <- factor(x)
    if (!is.factor(x) && length(unique(x)) == 2) x <- factor(x)
    if (is.factor(x)) {
      x <- droplevels(x)
      lv <- levels(x)
      if (length(lv) == 2 && all(lv %in% c("0", "1", "FALSE", "TRUE"))) {
        cols[[nm]] <- as.numeric(x %in% c("1", "TRUE"))
      } else if (length(lv) == 2) {
        cols[[paste0(nm, "_", lv[2])]] <- as.numeric(x == lv[2])
      } else {
        for (l in lv) cols[[paste0(nm, "_", l)]] <- as.numeric(x == l)
      }
    } else {
      cols[[nm]] <- as.numeric(x)
    }
  }
  do.call(cbind, cols)
}

.bt_var <- function(x, w, binary) {
  w <- w / sum(w)
  m <- sum(w * x)
  if (binary) m * (1 - m) else sum(w * (x - m)^2) / (1 - sum(w^2))
}

.bt_ks <- function(x, t, w, binary) {
  w1 <- w[t == 1] / sum(w[t == 1]); w0 <- w[t == 0] / sum(w[t == 0])
  if (binary) return(abs(sum(w1 * x[t == 1]) - sum(w0 * x[t == 0])))
  u <- sort(unique(x))
  F1 <- vapply(u, function(v) sum(w1[x[t == 1] <= v]), 0)
  F0 <- vapply(u, function(v) sum(w0[x[t == 0] <= v]), 0)
  max(abs(F1 - F0))
}

ref_bal_tab <- function(data, args) {
  f <- as.formula(args$formula)
  tname <- all.vars(f)[1]
  treat <- .bt_treat01(data[[tname]])
  ws <- .bt_weights(data, args, treat)
  C <- cbind(prop.score = ws$ps, .bt_covariates(f, data))
  type <- c("Distance", apply(C[, -1, drop = FALSE], 2,
                              function(x) if (length(unique(x)) <= 2) "Binary" else "Contin."))
  binary <- if (is.null(args$binary)) "raw" else args$binary
  is_bin <- type == "Binary"
  std <- (is_bin & binary == "std") | (!is_bin)
  sdd <- switch(args$estimand, ATE = "pooled", ATT = "treated", ATC = "control",
                ATO = "weighted", ATM = "weighted")
  one <- .bt_sw(data, args)  # sampling weights (1 when absent): the unadjusted sample
  denom <- vapply(seq_len(ncol(C)), function(j) {
    x <- C[, j]; b <- is_bin[j]
    d <- switch(sdd,
      pooled = sqrt((.bt_var(x[treat == 0], one[treat == 0], b) + .bt_var(x[treat == 1], one[treat == 1], b)) / 2),
      treated = sqrt(.bt_var(x[treat == 1], one[treat == 1], b)),
      control = sqrt(.bt_var(x[treat == 0], one[treat == 0], b)),
      weighted = sqrt(.bt_var(x, ws$w * one, b)))
    if (!is.finite(d) || abs(d) < sqrt(.Machine$double.eps)) d <- sqrt(.bt_var(x, one, b))
    d
  }, 0)
  out <- list(Type = setNames(unname(type), colnames(C)))
  for (tag in c("Un", "Adj")) {
    w <- if (tag == "Un") one else ws$w * one
    for (g in 0:1) {
      s <- treat == g
      out[[paste0("M.", g, ".", tag)]] <- setNames(colSums(w[s] * C[s, , drop = FALSE]) / sum(w[s]), colnames(C))
      out[[paste0("SD.", g, ".", tag)]] <- setNames(vapply(seq_len(ncol(C)), function(j) {
        if (is_bin[j] && binary == "raw") NA_real_ else sqrt(.bt_var(C[s, j], w[s], is_bin[j]))
      }, 0), colnames(C))
    }
    diff <- out[[paste0("M.1.", tag)]] - out[[paste0("M.0.", tag)]]
    tosd <- std & abs(diff) >= sqrt(.Machine$double.eps)
    diff[tosd] <- diff[tosd] / denom[tosd]
    out[[paste0("Diff.", tag)]] <- diff
    out[[paste0("V.Ratio.", tag)]] <- setNames(vapply(seq_len(ncol(C)), function(j) {
      if (is_bin[j]) NA_real_ else
        .bt_var(C[treat == 1, j], w[treat == 1], FALSE) / .bt_var(C[treat == 0, j], w[treat == 0], FALSE)
    }, 0), colnames(C))
    out[[paste0("KS.", tag)]] <- setNames(vapply(seq_len(ncol(C)), function(j) {
      .bt_ks(C[, j], treat, w, is_bin[j])
    }, 0), colnames(C))
  }
  # cobalt's threshold labels on the adjusted statistics (distance rows and NA left blank)
  lab <- function(x, t, f) {
    r <- round(t, 3)
    ifelse(type == "Distance" | !is.finite(x), "",
           ifelse(f(x) < t, paste0("Balanced, <", r), paste0("Not Balanced, >", r)))
  }
  if (!is.null(args$m_threshold))
    out$M.Threshold <- setNames(lab(out$Diff.Adj, args$m_threshold, abs), colnames(C))
  if (!is.null(args$v_threshold))
    out$V.Threshold <- setNames(lab(out$V.Ratio.Adj, args$v_threshold, function(v) pmax(v, 1 / v)),
                                colnames(C))
  ess <- function(x) sum(x)^2 / sum(x^2)
  out$Observations <- list(
    Control = c(ess(one[treat == 0]), ess((ws$w * one)[treat == 0])),
    Treated = c(ess(one[treat == 1]), ess((ws$w * one)[treat == 1])))
  out
}
