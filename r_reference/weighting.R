# Base-R statements of WeightIt's computations (WeightIt 1.5.1) for a binary treatment.
# Each function takes the data.frame Python sends and `args`, and returns a named list.
# Facts (not code) from WeightIt's sources: weightit2glm() fits
#   glm(treat ~ covs, weights = s.weights, mustart = .25 + .5 * treat,
#       family = quasibinomial(), control = glm.control(...))
# and get_w_from_ps() / stabilize_w() turn the propensity score into weights.

.ref_treat01 <- function(x) {
  if (is.factor(x)) return(as.numeric(x == levels(droplevels(x))[2]))
  if (is.logical(x)) return(as.numeric(x))
  as.numeric(x)
}

.ref_sw <- function(data, args) {
  if (is.null(args$s_weights)) rep(1, nrow(data)) else as.numeric(data[[args$s_weights]])
}

.ref_control <- function(args) {
  glm.control(epsilon = if (is.null(args$epsilon)) 1e-8 else args$epsilon,
              maxit = if (is.null(args$maxit)) 25 else args$maxit)
}

# Propensity score exactly as WeightIt's call to glm() (quasibinomial, mustart, s.weights).
ref_ps_glm <- function(data, args) {
  f <- as.formula(args$formula)
  tname <- all.vars(f)[1]
  data$.treat01 <- .ref_treat01(data[[tname]])
  f2 <- update(f, .treat01 ~ .)
  sw <- .ref_sw(data, args)
  data$.sw <- sw
  fit <- glm(f2, data = data, weights = .sw, mustart = 0.25 + 0.5 * data$.treat01,
             family = quasibinomial(), control = .ref_control(args))
  list(fit = fit, ps = unname(fit$fitted.values), treat = data$.treat01, sw = sw)
}

# get_w_from_ps() for binary treatments, written out per estimand. Stabilisation (WeightIt >= 1.0,
# ATE only): weights divided by those of the intercept-only model treat ~ 1 fitted with the
# sampling weights, i.e. multiplied by the sampling-weighted share of the unit's group.
ref_w_from_ps <- function(ps, treat, estimand, stabilize = FALSE, sw = rep(1, length(treat))) {
  w <- switch(estimand,
    ATE = ifelse(treat == 1, 1 / ps, 1 / (1 - ps)),
    ATT = ifelse(treat == 1, 1, ps / (1 - ps)),
    ATC = ifelse(treat == 1, (1 - ps) / ps, 1),
    ATO = ifelse(treat == 1, 1 - ps, ps),
    ATM = ifelse(treat == 1, pmin(ps, 1 - ps) / ps, pmin(ps, 1 - ps) / (1 - ps)),
    stop("unknown estimand"))
  if (isTRUE(stabilize)) {
    p1 <- unname(fitted(glm(treat ~ 1, weights = sw, family = quasibinomial()))[1])
    w <- w * ifelse(treat == 1, p1, 1 - p1)
  }
  w
}

ref_weightit_glm <- function(data, args) {
  m <- ref_ps_glm(data, args)
  w <- ref_w_from_ps(m$ps, m$treat, args$estimand, isTRUE(args$stabilize), m$sw)
  list(ps = m$ps, weights = unname(w), coef = coef(m$fit), deviance = deviance(m$fit),
       iter = m$fit$iter, converged = m$fit$converged)
}

# summary.weightit() quantities, restated.
ref_weight_summary <- function(data, args) {
  m <- ref_ps_glm(data, args)
  w <- ref_w_from_ps(m$ps, m$treat, args$estimand, isTRUE(args$stabilize), m$sw) * m$sw
  t <- m$treat
  ess <- function(x) sum(x)^2 / sum(x^2)
  out <- list()
  for (g in c("treated", "control")) {
    x <- w[t == (g == "treated")]
    v <- x / mean(x)
    nz <- x[x != 0]
    pos <- x[x > 0]; u <- pos / mean(pos)
    out[[g]] <- list(
      min = min(nz), max = max(nz),
      top = rev(sort(abs(x), decreasing = TRUE)[seq_len(min(5, length(x)))]),
      coef_of_var = sd(x) / mean(x),
      scaled_mad = mean(abs(v - mean(v))),
      negative_entropy = mean(u * log(u)),
      ess_unweighted = ess(m$sw[t == (g == "treated")]), ess_weighted = ess(x))
  }
  out
}

# WeightIt's .trim_weights(): quantile type 3 (or a count), focal groups with constant weights
# left alone.
ref_trim <- function(data, args) {
  m <- ref_ps_glm(data, args)
  w <- ref_w_from_ps(m$ps, m$treat, args$estimand, isTRUE(args$stabilize))
  at <- args$at
  lower <- isTRUE(args$lower)
  same <- tapply(w, m$treat, function(x) abs(max(x) - min(x)) < sqrt(.Machine$double.eps))
  tt <- !(m$treat %in% as.numeric(names(same)[same]))
  if (at < 1) {
    at <- max(at, 1 - at)
    q <- quantile(w[tt], probs = if (lower) c(1 - at, at) else c(0, at), type = 3, names = FALSE)
  } else {
    k <- as.integer(min(at, sum(tt) - at))
    s <- sort(w[tt])
    q <- c(if (lower) s[k + 1] else s[1], s[sum(tt) - k])
  }
  w[tt & w < q[1]] <- q[1]
  w[tt & w > q[2]] <- q[2]
  list(weights = w)
}

# Entropy balancing (WeightIt's weightit2ebal, moments = 1, tols = 0): covariates brought
# "closer to 1" (binary -> 0/1 of the larger value, others standardised), sampling weights
# scaled to mean 1 in the target sample, N = number of target units; the dual
#   f(Z) = sum(S exp(-C Z)) / N + sum(Z * M)
# minimised by optim(BFGS) with its analytic gradient, then polished by Newton steps.
ref_ebal <- function(data, args) {
  f <- as.formula(args$formula)
  tname <- all.vars(f)[1]
  treat <- .ref_treat01(data[[tname]])
  X <- model.matrix(f, data)
  for (j in seq_len(ncol(X))[-1]) {
    x <- X[, j]
    u <- unique(x)
    if (length(u) == 2) X[, j] <- as.numeric(x == max(u)) else X[, j] <- (x - mean(x)) / sd(x)
  }
  sw <- .ref_sw(data, args)
  est <- args$estimand
  if (est == "ATE") { target <- rep(TRUE, length(treat)); groups <- c(0, 1) }
  else { focal <- if (est == "ATT") 1 else 0; target <- treat == focal; groups <- 1 - focal }
  N <- sum(sw[target] != 0)
  S <- sw / mean(sw[target])
  M <- colSums(S[target] * X[target, , drop = FALSE]) / sum(S[target])
  w <- rep(1, length(treat))
  out <- list()
  for (g in groups) {
    i <- which(treat == g & sw != 0)
    C <- X[i, , drop = FALSE]; s <- S[i]
    fn <- function(Z) sum(s * exp(-drop(C %*% Z))) / N + sum(Z * M)
    gr <- function(Z) -drop((s * exp(-drop(C %*% Z))) %*% C) / N + M
    opt <- optim(rep(0, ncol(C)), fn, gr, method = "BFGS",
                 control = list(reltol = 1e-14, maxit = 10000))
    Z <- opt$par
    for (k in 1:50) {  # Newton polish of the BFGS solution
      e <- s * exp(-drop(C %*% Z))
      g1 <- -drop(e %*% C) / N + M
      if (max(abs(g1)) < 1e-13) break
      H <- crossprod(C * e, C) / N
      Z <- Z - solve(H, g1)
    }
    names(Z) <- colnames(X)
    w[i] <- exp(-drop(C %*% Z))
    out[[paste0("dual", g)]] <- Z
  }
  if (isTRUE(args$stabilize)) {
    p1 <- sum(sw * treat) / sum(sw)
    w <- w * ifelse(treat == 1, p1, 1 - p1)
  }
  c(list(weights = w), out)
}

# Just-identified CBPS (WeightIt's weightit2cbps, over = FALSE, logit): the balance conditions
#   colMeans(SW * psi(p) * X) = 0,  ATE psi = A/p - (1-A)/(1-p), ATT (A-p)/(1-p), ATC (A-p)/p,
# with X = model matrix (intercept + the formula's columns), solved by Newton from the glm fit.
ref_cbps <- function(data, args) {
  f <- as.formula(args$formula)
  tname <- all.vars(f)[1]
  A <- .ref_treat01(data[[tname]])
  X <- model.matrix(f, data)
  SW <- .ref_sw(data, args)
  b <- unname(coef(glm.fit(X, A, weights = SW, family = quasibinomial(),
                           control = glm.control(epsilon = 1e-12, maxit = 100))))
  est <- args$estimand
  psi <- function(b) {
    p <- plogis(drop(X %*% b))
    g <- switch(est, ATE = A / p - (1 - A) / (1 - p), ATT = (A - p) / (1 - p), ATC = (A - p) / p)
    dg <- switch(est, ATE = -A * (1 - p) / p - (1 - A) * p / (1 - p),
                 ATT = (A - 1) * p / (1 - p), ATC = -A * (1 - p) / p)
    list(g = colSums(SW * g * X) / nrow(X), J = crossprod(X * (SW * dg), X) / nrow(X), p = p)
  }
  s <- psi(b)
  for (k in 1:200) {
    if (max(abs(s$g)) < 1e-14) break
    step <- solve(s$J, s$g)
    t <- 1
    repeat {
      s2 <- psi(b - t * step)
      if (sqrt(sum(s2$g^2)) < sqrt(sum(s$g^2)) || t < 1e-10) break
      t <- t / 2
    }
    b <- b - t * step
    s <- s2
  }
  w <- ref_w_from_ps(s$p, A, est, isTRUE(args$stabilize), SW)
  list(ps = s$p, weights = unname(w))
}
