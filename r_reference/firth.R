# Reference functions for carts_iptw.design.firth (logistf twin).
# Each function(data, args) -> named list.
#
# Estimates and SEs: the real brglm2 package (Debian r-cran-brglm2), brglmFit(type = "AS_mean"):
# mean bias reduction by adjusted scores, which for a logistic model with the canonical link is
# Firth's penalised likelihood, the estimator of logistf. Weights: brglm2's prior weights enter
# the binomial log-likelihood and the Fisher information X' diag(w p (1 - p)) X exactly as
# logistf's case weights do (logistf.c: loglik += weight * log(pi); wi = sqrt(weight * pi *
# (1 - pi)); modified score weight * (y - pi) + Hdiag * (0.5 - pi)), so weighted fits compare too.
#
# Profile penalised-likelihood CIs and penalised LR tests: logistf itself does not install here
# and brglm2 has no profile of the penalised likelihood, so these are an INDEPENDENT
# COMPUTATION: the penalised log-likelihood is evaluated at brglm2's estimate (the maximum) and
# maximised over the nuisance coefficients by optim(BFGS) for each fixed value; limits by
# uniroot on 2 (l*max - max_{b_-j} l*) = qchisq(0.95, 1), p-values by penalised LR tests.
suppressPackageStartupMessages(library(brglm2))

.firth_frame <- function(data, args) {
  for (v in names(data)) if (is.character(data[[v]])) data[[v]] <- factor(data[[v]])
  f <- as.formula(args$formula)
  mf <- model.frame(f, data)
  list(f = f, data = data, X = model.matrix(f, mf), y = as.numeric(model.response(mf)),
       w = if (is.null(args$weights)) rep(1, nrow(mf)) else data[[args$weights]])
}

.firth_brglm2 <- function(fr) {
  # non-integer IPT weights: glm's binomial initialize warns "non-integer #successes"; the
  # weights are case weights here (as logistf's), so that warning is expected and muffled.
  fit <- withCallingHandlers(
    glm(fr$f, family = binomial("logit"), data = cbind(fr$data, .w = fr$w), weights = .w,
        method = "brglmFit", type = "AS_mean", epsilon = 1e-12, maxit = 1000),
    warning = function(w) if (grepl("non-integer", conditionMessage(w))) invokeRestart("muffleWarning"))
  if (!isTRUE(fit$converged)) stop("brglmFit did not converge")
  fit
}

ref_firth_brglm2 <- function(data, args) {
  fr <- .firth_frame(data, args)
  fit <- .firth_brglm2(fr)
  s <- summary(fit)$coefficients
  list(coef = coef(fit), se = setNames(s[, "Std. Error"], rownames(s)))
}

ref_firth_profile <- function(data, args) {
  fr <- .firth_frame(data, args)
  X <- fr$X; y <- fr$y; w <- fr$w
  pll <- function(b) {
    eta <- drop(X %*% b)
    v <- w * plogis(eta) * plogis(-eta)
    sum(w * (y * plogis(eta, log.p = TRUE) + (1 - y) * plogis(-eta, log.p = TRUE))) +
      0.5 * as.numeric(determinant(crossprod(X * sqrt(v)))$modulus)
  }
  grad <- function(b) {
    eta <- drop(X %*% b)
    p <- plogis(eta)
    v <- w * p * (1 - p)
    Iinv <- solve(crossprod(X * sqrt(v)))
    g1 <- drop(crossprod(X, w * (y - p)))
    g2 <- vapply(seq_len(ncol(X)), function(j) {
      dI <- crossprod(X * (v * (1 - 2 * p) * X[, j]), X)
      0.5 * sum(Iinv * dI)
    }, numeric(1))
    g1 + g2
  }
  b <- coef(.firth_brglm2(fr))
  lmax <- pll(b)
  ctl <- list(fnscale = -1, reltol = 1e-16, maxit = 10000)
  prof <- function(j, val) {
    g <- function(bb) pll(append(bb, val, after = j - 1))
    gg <- function(bb) grad(append(bb, val, after = j - 1))[-j]
    o <- optim(b[-j], g, gg, method = "BFGS", control = ctl)
    o <- optim(o$par, g, gg, method = "BFGS", control = ctl)  # restart: fresh Hessian
    o$value
  }
  eta <- drop(X %*% b)
  se <- sqrt(diag(solve(crossprod(X * sqrt(w * plogis(eta) * plogis(-eta))))))
  q <- qchisq(0.95, 1)
  lims <- t(vapply(seq_along(b), function(j) {
    h <- function(val) 2 * (lmax - prof(j, val)) - q
    up <- b[j] + se[j]; while (h(up) < 0) up <- up + 2 * se[j]
    lo <- b[j] - se[j]; while (h(lo) < 0) lo <- lo - 2 * se[j]
    c(uniroot(h, c(lo, b[j]), tol = 1e-12)$root, uniroot(h, c(b[j], up), tol = 1e-12)$root)
  }, numeric(2)))
  chisq <- vapply(seq_along(b), function(j) 2 * (lmax - prof(j, 0)), numeric(1))
  names(chisq) <- colnames(X)
  list(lower = setNames(lims[, 1], colnames(X)), upper = setNames(lims[, 2], colnames(X)),
       chisq = chisq, pvalues = pchisq(chisq, 1, lower.tail = FALSE), loglik = lmax)
}
