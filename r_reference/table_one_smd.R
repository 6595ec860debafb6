# tableone's standardised mean differences (tableone::CreateTableOne / svyCreateTableOne with
# smd = TRUE), restated: tableone is not installable here (not on Debian: no r-cran-tableone;
# no CRAN). One SMD per variable, absolute:
#  - continuous: |m1 - m0| / sqrt((v1 + v0) / 2), v = var() per arm (weighted: survey::svyby
#    with svymean and svyvar);
#  - a factor (binary variables entered as two-level factors, tableone's factorVars): Yang &
#    Dalton (2012) -- level proportions per arm (table(); weighted: survey::svytable), first
#    level dropped, multinomial covariance diag(p) - p p', d' ginv((S1 + S0) / 2) d, square root
#    (MASS::ginv).
# Weights from the real WeightIt; the weighted parts computed by the real survey package.
suppressPackageStartupMessages({
  library(survey)
  library(MASS)
  library(WeightIt)
})

.t1_prop_smd <- function(tab) {  # strata x levels table -> Yang & Dalton SMD
  P <- prop.table(tab, margin = 1)
  if (ncol(P) > 1) P <- P[, -1, drop = FALSE]
  p0 <- P[1, ]; p1 <- P[2, ]
  S0 <- -outer(p0, p0); diag(S0) <- p0 * (1 - p0)
  S1 <- -outer(p1, p1); diag(S1) <- p1 * (1 - p1)
  d <- p1 - p0
  sqrt(drop(t(d) %*% ginv((S0 + S1) / 2) %*% d))
}

ref_table_one_tableone <- function(data, args) {
  trt <- args$treatment
  vars <- unlist(args$vars)
  W <- weightit(as.formula(args$ps_formula), data = data, method = "glm",
                estimand = args$estimand)
  for (v in vars) {  # binary 0/1 as a two-level factor; unused levels dropped
    x <- data[[v]]
    if (is.character(x) || is.logical(x)) data[[v]] <- factor(x)
    else if (is.numeric(x) && all(x %in% c(0, 1))) data[[v]] <- factor(x, levels = c(0, 1))
    if (is.factor(data[[v]])) data[[v]] <- droplevels(data[[v]])
  }
  data$.grp <- factor(data[[trt]], levels = c(0, 1))
  data$.w <- W$weights
  des <- svydesign(ids = ~1, weights = ~.w, data = data)
  un <- c(); wt <- c()
  for (v in vars) {
    x <- data[[v]]
    if (is.factor(x)) {
      un[v] <- .t1_prop_smd(table(data$.grp, x))
      wt[v] <- .t1_prop_smd(svytable(as.formula(paste("~ .grp +", v)), design = des))
    } else {
      m <- tapply(x, data$.grp, mean); s2 <- tapply(x, data$.grp, var)
      un[v] <- abs(m[2] - m[1]) / sqrt((s2[1] + s2[2]) / 2)
      f <- as.formula(paste("~", v))
      wm <- svyby(f, ~.grp, des, svymean)[, 2]
      wv <- svyby(f, ~.grp, des, svyvar)[, 2]
      wt[v] <- abs(wm[2] - wm[1]) / sqrt((wv[1] + wv[2]) / 2)
    }
  }
  list(smd_tableone = un, smd_tableone_weighted = wt)
}
