# Reference functions for carts_iptw.survival: survival / survey twins.
# Each function(data, args) -> named list of numbers / named numeric vectors / strings.
suppressPackageStartupMessages({
  library(survival)
  library(survey)
})

.ctrl <- function(args) {
  coxph.control(eps = if (is.null(args$eps)) 1e-9 else args$eps,
                iter.max = if (is.null(args$iter_max)) 20L else as.integer(args$iter_max))
}

.chi <- function(x, df) unname(c(x, pchisq(x, df, lower.tail = FALSE)))  # summary() rounds

ref_coxph <- function(data, args) {
  cl <- list(formula = as.formula(args$formula), data = data,
             ties = if (is.null(args$ties)) "efron" else args$ties, control = .ctrl(args))
  if (!is.null(args$weights)) cl$weights <- data[[args$weights]]
  if (!is.null(args$robust)) cl$robust <- args$robust
  if (!is.null(args$cluster)) cl$cluster <- data[[args$cluster]]
  fit <- do.call(coxph, cl)
  s <- summary(fit)
  df <- sum(!is.na(coef(fit)))
  nv <- if (is.null(fit$naive.var)) fit$var else fit$naive.var
  out <- list(coef = coef(fit),
              se = setNames(sqrt(diag(fit$var)), names(coef(fit))),
              naive_se = setNames(sqrt(diag(nv)), names(coef(fit))),
              var = as.vector(fit$var),
              lower = setNames(s$conf.int[, 3], names(coef(fit))),
              upper = setNames(s$conf.int[, 4], names(coef(fit))),
              loglik = fit$loglik, n = fit$n, nevent = fit$nevent, iter = fit$iter,
              logtest = .chi(-2 * (fit$loglik[1] - fit$loglik[2]), df),
              sctest = .chi(fit$score, df), waldtest = .chi(fit$wald.test, df))
  if (!is.null(fit$rscore)) out$robscore <- .chi(fit$rscore, df)
  out$concordance <- fit$concordance  # concordant, ..., concordance, std (Harrell's C)
  out
}

.km_table <- function(f) {
  lab <- if (is.null(f$strata)) rep("all", length(f$time)) else rep(names(f$strata), f$strata)
  list(strata = lab, time = f$time, n_risk = f$n.risk, n_event = f$n.event,
       n_censor = f$n.censor, surv = f$surv, std_err = f$std.err,
       lower = f$lower, upper = f$upper)
}

ref_survfit <- function(data, args) {
  cl <- list(formula = as.formula(args$formula), data = data,
             conf.type = if (is.null(args$conf_type)) "log" else args$conf_type)
  if (!is.null(args$weights)) cl$weights <- data[[args$weights]]
  if (!is.null(args$robust)) cl$robust <- args$robust
  if (!is.null(args$id)) cl$id <- data[[args$id]]
  if (!is.null(args$cluster)) cl$cluster <- data[[args$cluster]]
  f <- do.call(survfit, cl)
  out <- .km_table(f)
  tab <- summary(f)$table
  if (is.null(dim(tab))) tab <- matrix(tab, nrow = 1, dimnames = list("all", names(tab)))
  out$median <- unname(tab[, "median"])
  out$median_lower <- unname(tab[, "0.95LCL"])
  out$median_upper <- unname(tab[, "0.95UCL"])
  if (!is.null(args$times)) {
    st <- summary(f, times = unlist(args$times))
    out$at_time <- st$time
    out$at_n_risk <- st$n.risk
    out$at_n_event <- st$n.event
    out$at_surv <- st$surv
    out$at_std_err <- st$std.err
    out$at_lower <- st$lower
    out$at_upper <- st$upper
  }
  out
}

ref_survdiff <- function(data, args) {
  s <- survdiff(as.formula(args$formula), data = data)
  list(chisq = s$chisq, df = length(s$n) - 1, pvalue = pchisq(s$chisq, length(s$n) - 1, lower.tail = FALSE),
       obs = if (is.matrix(s$obs)) rowSums(s$obs) else as.vector(s$obs), exp = if (is.matrix(s$exp)) rowSums(s$exp) else as.vector(s$exp), var = as.vector(s$var), n = as.vector(s$n))
}

.svy <- function(data, args) {
  ids <- if (is.null(args$ids)) ~1 else as.formula(paste("~", args$ids))
  svydesign(ids = ids, weights = as.formula(paste("~", args$weights)), data = data)
}

ref_svylogrank <- function(data, args) {
  d <- .svy(data, args)
  r <- svylogrank(as.formula(args$formula), d, method = args$method)
  if (args$method == "score") {
    r <- unclass(r)
    k <- length(r)
    list(score = unname(r[1:(k - 2)]), chisq = unname(r[["Chisq"]]), pvalue = unname(r[["p"]]))
  } else {
    m <- as.matrix(r[[1]])  # columns score, se, z, p (the matrix form leaves names blank)
    list(z = unname(m[, 3]), score = unname(m[, 1]), se = unname(m[, 2]),
         chisq = unname(r[[2]][[1]]), pvalue = unname(r[[2]][[2]]))
  }
}

ref_svycoxph <- function(data, args) {
  d <- .svy(data, args)
  fit <- svycoxph(as.formula(args$formula), design = d)  # ties = "efron" (coxph's default)
  list(coef = coef(fit), se = setNames(sqrt(diag(vcov(fit))), names(coef(fit))),
       loglik = fit$ll, wald = unname(c(fit$wald.test)))
}

ref_svykm <- function(data, args) {
  d <- .svy(data, args)
  km <- svykm(as.formula(args$formula), design = d, se = !isFALSE(args$se))
  if (inherits(km, "svykmlist")) {
    out <- list()
    for (g in names(km)) {
      out[[paste0("time.", g)]] <- km[[g]]$time
      out[[paste0("surv.", g)]] <- km[[g]]$surv
      if (!is.null(km[[g]]$varlog)) out[[paste0("var.", g)]] <- as.vector(km[[g]]$varlog)
    }
    out
  } else {
    out <- list(time = km$time, surv = km$surv)
    if (!is.null(km$varlog)) out$var <- as.vector(km$varlog)
    out
  }
}

ref_coxzph <- function(data, args) {
  cl <- list(formula = as.formula(args$formula), data = data,
             ties = if (is.null(args$ties)) "efron" else args$ties, control = .ctrl(args))
  if (!is.null(args$weights)) cl$weights <- data[[args$weights]]
  if (!is.null(args$robust)) cl$robust <- args$robust
  fit <- do.call(coxph, cl)
  z <- cox.zph(fit, transform = if (is.null(args$transform)) "km" else args$transform)
  list(chisq = setNames(z$table[, "chisq"], rownames(z$table)),
       df = setNames(z$table[, "df"], rownames(z$table)),
       p = setNames(z$table[, "p"], rownames(z$table)))
}

ref_survfit_ms <- function(data, args) {
  data$.ms <- factor(data[[args$status]], levels = 0:(length(args$states)),
                     labels = c("censor", unlist(args$states)))
  cl <- list(formula = as.formula(args$formula), data = data)
  if (!is.null(args$weights)) cl$weights <- data[[args$weights]]
  if (!is.null(args$id)) cl$id <- data[[args$id]]
  f <- do.call(survfit, cl)
  lab <- if (is.null(f$strata)) rep("all", length(f$time)) else rep(names(f$strata), f$strata)
  st <- f$states
  out <- list(strata = lab, time = f$time, n_risk = as.vector(f$n.risk[, 1]))
  for (k in seq_along(st)) {
    if (st[k] == "(s0)") next
    out[[paste0("pstate.", st[k])]] <- f$pstate[, k]
    out[[paste0("std_err.", st[k])]] <- f$std.err[, k]
  }
  out
}

ref_finegray <- function(data, args) {
  data$.ms <- factor(data[[args$status]], levels = 0:(length(args$states)),
                     labels = c("censor", unlist(args$states)))
  data$.rowid <- seq_len(nrow(data))
  cl <- list(formula = as.formula(args$fg_formula), data = data, etype = args$etype)
  if (!is.null(args$weights)) cl$weights <- data[[args$weights]]
  fg <- do.call(finegray, cl)
  cc <- list(formula = as.formula(args$formula), data = fg, weights = fg$fgwt,
             control = .ctrl(args))
  if (isTRUE(args$cluster_id)) cc$cluster <- fg$.rowid
  fit <- do.call(coxph, cc)
  list(coef = coef(fit), se = setNames(sqrt(diag(fit$var)), names(coef(fit))),
       naive_se = setNames(sqrt(diag(fit$naive.var)), names(coef(fit))),
       loglik = fit$loglik, nrow = nrow(fg), sum_fgwt = sum(fg$fgwt))
}
