# Reference functions for carts_iptw.formula (model.matrix) and carts_iptw.glm (stats::glm).
# Each function(data, args) -> named list.
suppressPackageStartupMessages(library(splines))  # ns() / bs() in formulas

# Rebuild factors with factor() (same levels, same order): a factor built from C without R's
# object bit is not a factor to model.matrix's C code. Defensive; the bridge now sets it.
.refactor <- function(data) {
  for (v in names(data)) {
    x <- data[[v]]
    if (is.factor(x)) {
      lv <- levels(x)
      data[[v]] <- factor(lv[as.integer(unclass(x))], levels = lv)
    }
  }
  data
}

# Columns named in args$ordered become ordered factors (pandas ordered Categoricals).
.prep <- function(data, args) {
  data <- .refactor(data)
  for (v in args$ordered) data[[v]] <- factor(data[[v]], levels = levels(data[[v]]), ordered = TRUE)
  data
}

# model.frame(drop.unused.levels = TRUE) + model.matrix: what glm() builds from a formula.
ref_model_matrix <- function(data, args) {
  f <- as.formula(args$formula)
  data <- .prep(data, args)
  mf <- model.frame(f, data = data, drop.unused.levels = TRUE)
  tt <- attr(mf, "terms")
  X <- model.matrix(tt, mf)
  rownames(X) <- NULL
  y <- model.response(mf)
  out <- list(
    column_names = colnames(X),
    term_labels = attr(tt, "term.labels"),
    intercept = attr(tt, "intercept"),
    assign = attr(X, "assign"),
    X = X
  )
  if (!is.null(y)) {
    if (is.factor(y)) y <- as.numeric(y != levels(y)[1L])
    out$y <- as.numeric(unname(y))
  }
  off <- model.offset(mf)
  if (!is.null(off)) out$offset <- as.numeric(off)
  out
}

.family <- function(args) {
  fam <- get(args$family, mode = "function")
  if (is.null(args$link)) fam() else fam(link = args$link)
}

# stats::glm + summary.glm + confint.default; warnings returned as text.
ref_glm <- function(data, args) {
  f <- as.formula(args$formula)
  data <- .prep(data, args)
  ctrl <- glm.control(epsilon = if (is.null(args$epsilon)) 1e-8 else args$epsilon,
                      maxit = if (is.null(args$maxit)) 25L else args$maxit)
  data[[".w"]] <- if (is.null(args$weights)) rep(1, nrow(data)) else data[[args$weights]]
  data[[".off"]] <- if (is.null(args$offset)) NULL else data[[args$offset]]
  warns <- character(0)
  catch <- function(expr) withCallingHandlers(expr, warning = function(w) {
    warns <<- c(warns, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  fit <- catch(if (is.null(args$offset)) {
    glm(f, family = .family(args), data = data, weights = .w, control = ctrl)
  } else {
    glm(f, family = .family(args), data = data, weights = .w, offset = .off, control = ctrl)
  })
  s <- catch(summary(fit))
  cf <- coef(fit)
  # summary's table drops aliased (NA) coefficients; put them back as NA rows
  tab <- matrix(NA_real_, length(cf), 4L, dimnames = list(names(cf), NULL))
  tab[rownames(coef(s)), ] <- coef(s)
  V <- catch(vcov(fit))
  ci <- catch(confint.default(fit))
  list(
    coef = cf,
    se = tab[, 2],
    statistic = tab[, 3],
    p_value = tab[, 4],
    vcov = unname(V),
    ci_lower = ci[, 1],
    ci_upper = ci[, 2],
    fitted = unname(fitted(fit)),
    linear_predictor = unname(fit$linear.predictors),
    working_weights = unname(fit$weights),
    resid_deviance = unname(residuals(fit, type = "deviance")),
    resid_pearson = unname(residuals(fit, type = "pearson")),
    deviance = fit$deviance,
    null_deviance = fit$null.deviance,
    aic = fit$aic,
    loglik = as.numeric(logLik(fit)),
    bic = BIC(fit),
    dispersion = s$dispersion,
    df_residual = fit$df.residual,
    df_null = fit$df.null,
    rank = fit$rank,
    iter = fit$iter,
    converged = fit$converged,
    warnings = unique(warns)
  )
}

# Surv() response, strata()/cluster() specials and the model matrix without them, as coxph
# builds them (strata() terms combined with shortlabel = TRUE).
ref_model_frame_surv <- function(data, args) {
  suppressPackageStartupMessages(library(survival))
  data <- .prep(data, args)
  f <- as.formula(args$formula)
  tt <- terms(f, specials = c("strata", "cluster"))
  mf <- model.frame(tt, data = data, drop.unused.levels = TRUE)
  y <- model.response(mf)
  type <- attr(y, "type")
  out <- list(type = type)
  if (type %in% c("counting", "mcounting")) {
    out$start <- unname(y[, "start"])
    out$time <- unname(y[, "stop"])
  } else {
    out$time <- unname(y[, "time"])
  }
  out$event <- unname(y[, "status"])
  if (!is.null(attr(y, "states"))) out$states <- attr(y, "states")
  drop <- integer(0)
  st <- untangle.specials(tt, "strata", 1)
  if (length(st$vars)) {
    s <- if (length(st$vars) == 1) mf[[st$vars]] else strata(mf[, st$vars], shortlabel = TRUE)
    out$strata_levels <- levels(s)
    out$strata_codes <- as.integer(s)
    drop <- c(drop, st$terms)
  }
  cl <- untangle.specials(tt, "cluster", 1)
  if (length(cl$vars)) {
    out$cluster <- as.numeric(mf[[cl$vars]])
    drop <- c(drop, cl$terms)
  }
  tt2 <- if (length(drop)) tt[-drop] else tt
  X <- model.matrix(tt2, mf)
  rownames(X) <- NULL
  out$column_names <- colnames(X)
  out$X <- X
  out
}

# predict.glm on new rows (type link and response).
ref_glm_predict <- function(data, args) {
  data <- .prep(data, args)
  f <- as.formula(args$formula)
  fit <- suppressWarnings(glm(f, family = .family(args), data = data))
  nd <- data[args$rows, , drop = FALSE]
  for (v in names(args$shift)) nd[[v]] <- nd[[v]] + args$shift[[v]]  # beyond the fitted range
  list(link = unname(predict(fit, newdata = nd, type = "link")),
       response = unname(predict(fit, newdata = nd, type = "response")))
}

# A family's functions on a grid: linkinv and mu.eta on eta, linkfun and variance on mu,
# dev.resids and aic at (y, mu, wt) — the pieces glm.fit calls.
ref_family <- function(data, args) {
  fam <- .family(args)
  eta <- data$eta
  mu <- data$mu
  list(
    linkinv = fam$linkinv(eta),
    mu_eta = fam$mu.eta(eta),
    linkfun = fam$linkfun(mu),
    variance = fam$variance(mu),
    dev_resids = fam$dev.resids(data$y, mu, data$wt),
    aic = fam$aic(data$y, rep(1, nrow(data)), mu, data$wt, sum(fam$dev.resids(data$y, mu, data$wt)))
  )
}
