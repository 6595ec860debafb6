# Reference functions for carts_iptw.survival.competing: survival::finegray (the expanded data),
# survival::survfit with a factor status and id= (Aalen-Johansen), cmprsk::crr (Fine-Gray).
# Each function(data, args) -> named list. The status arrives as an R factor (pandas
# Categorical, first level = censored).
suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})

# survival::finegray: the whole expanded data set, column by column
ref_finegray_expand <- function(data, args) {
  cl <- list(formula = as.formula(args$formula), data = data)
  if (!is.null(args$etype)) cl$etype <- args$etype
  if (!is.null(args$weights)) cl$weights <- data[[args$weights]]
  fg <- do.call(finegray, cl)
  fg[["(weights)"]] <- NULL  # R's model-frame column; the weights are in fgwt
  out <- list(nrow = nrow(fg), columns = names(fg))
  for (v in names(fg)) out[[paste0("col.", v)]] <- if (is.factor(fg[[v]])) as.character(fg[[v]]) else as.numeric(fg[[v]])
  out
}

# survival::survfit with a factor status and id = (one row per subject): Aalen-Johansen curves
ref_survfit_ms_id <- function(data, args) {
  cl <- list(formula = as.formula(args$formula), data = data, id = data[[args$id]])
  if (!is.null(args$weights)) cl$weights <- data[[args$weights]]
  if (!is.null(args$conf_type)) cl$conf.type <- args$conf_type
  f <- do.call(survfit, cl)
  lab <- if (is.null(f$strata)) rep("all", length(f$time)) else rep(names(f$strata), f$strata)
  st <- f$states
  st[st == "(s0)"] <- "s0"
  out <- list(states = f$states, strata = lab, time = f$time, n_risk = f$n.risk[, 1],
              n_censor = f$n.censor)
  for (k in seq_along(st)) {
    out[[paste0("pstate.", st[k])]] <- f$pstate[, k]
    out[[paste0("std_err.", st[k])]] <- f$std.err[, k]
    out[[paste0("lower.", st[k])]] <- f$lower[, k]
    out[[paste0("upper.", st[k])]] <- f$upper[, k]
    if (k > 1) out[[paste0("n_event.", st[k])]] <- f$n.event[, k]
  }
  if (!is.null(args$times)) {
    s <- summary(f, times = unlist(args$times))
    out$at_time <- s$time
    for (k in seq_along(st)) out[[paste0("at_pstate.", st[k])]] <- s$pstate[, k]
    for (k in seq_along(st)) out[[paste0("at_std_err.", st[k])]] <- s$std.err[, k]
  }
  out
}

# cmprsk::crr: unweighted Fine-Gray by its own estimating equations (Breslow ties; censoring
# Kaplan-Meier from survfit(Surv(ftime, fstatus == cencode)), evaluated just before each time)
ref_crr <- function(data, args) {
  X <- model.matrix(as.formula(paste("~", args$covariates)), data)[, -1, drop = FALSE]
  st <- data[[args$status]]
  fstatus <- as.integer(st) - 1L  # 0 = censored (first level), k = k-th state
  failcode <- match(args$etype, levels(st)) - 1L
  fit <- crr(data[[args$time]], fstatus, X, failcode = failcode, cencode = 0L,
             gtol = if (is.null(args$gtol)) 1e-6 else args$gtol,
             maxiter = if (is.null(args$maxiter)) 10L else as.integer(args$maxiter))
  if (!isTRUE(fit$converged)) stop("crr did not converge")
  # crr's SEs (fit$var) include the variance of the estimated censoring distribution, which
  # the robust coxph variance on finegray data does not: only the coefficients are compared.
  list(coef = setNames(fit$coef, colnames(X)))
}

# survival 3.5-3's finegray() with strata() AND weights multiplies fgwt by
# user.weights[split$row], where split$row numbers the rows *within the stratum*: every stratum
# after the first gets other subjects' weights. Here the unweighted finegray() (correct) is
# multiplied by each row's own subject weight, matched by the id column: the one step restated.
ref_finegray_expand_strata_w <- function(data, args) {
  fg <- finegray(as.formula(args$formula), data = data, etype = args$etype)
  fg$fgwt <- fg$fgwt * data[[args$weights]][match(fg[[args$id]], data[[args$id]])]
  out <- list(nrow = nrow(fg), columns = names(fg))
  for (v in names(fg)) out[[paste0("col.", v)]] <- if (is.factor(fg[[v]])) as.character(fg[[v]]) else as.numeric(fg[[v]])
  out
}
