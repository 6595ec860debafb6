# The real cobalt (4.6.1) on real WeightIt (1.5.1) objects: every balance parity case calls
# cobalt::bal.tab itself. (The base-R restatement of cobalt that lived here was deleted once the
# real package answered the same questions.)

.bt_weightit <- function(data, args) {
  a <- list(as.formula(args$formula), data = data,
            method = if (is.null(args$method)) "glm" else args$method,
            estimand = if (is.null(args$estimand)) "ATE" else args$estimand,
            stabilize = isTRUE(args$stabilize))
  if (!is.null(args$s_weights)) a$s.weights <- args$s_weights
  if (!is.null(args$missing)) a$missing <- args$missing
  if (!is.null(args$reltol)) a$reltol <- args$reltol
  do.call(WeightIt::weightit, a)
}

# bal.tab() with the options the Python function exposes; every column of $Balance is returned
# (numbers and cobalt's threshold labels), with $Observations.
real_bal_tab <- function(data, args) {
  W <- .bt_weightit(data, args)
  opt <- list(stats = if (is.null(args$stats)) c("mean.diffs", "variance.ratios", "ks.statistics")
                      else unlist(args$stats),
              un = if (is.null(args$un)) TRUE else isTRUE(args$un),
              quick = TRUE, disp = c("means", "sds"))
  if (!is.null(args$binary)) opt$binary <- args$binary
  if (!is.null(args$continuous)) opt$continuous <- args$continuous
  if (!is.null(args$s_d_denom)) opt$s.d.denom <- args$s_d_denom
  if (!is.null(args$thresholds)) opt$thresholds <- unlist(args$thresholds)
  if (is.null(args$bal_formula)) {
    b <- suppressWarnings(do.call(cobalt::bal.tab, c(list(W), opt)))
  } else {  # the formula interface, with the weights as a vector
    extra <- list(weights = W$weights)
    if (!is.null(args$s_weights)) extra$s.weights <- data[[args$s_weights]]
    if (!is.null(args$bal_estimand)) extra$estimand <- args$bal_estimand
    if (isTRUE(args$distance)) extra$distance <- W$ps
    b <- suppressWarnings(do.call(cobalt::bal.tab,
                                  c(list(as.formula(args$bal_formula), data = data), extra, opt)))
  }
  B <- b$Balance
  # KS of a continuous covariate with missing values: cobalt 4.6.1's col_w_ks drops the NAs from
  # x but not from the weights it pairs them with (misaligned); left out on both sides
  if (isTRUE(args$skip_ks_na)) {
    for (v in names(W$covs)[vapply(W$covs, anyNA, TRUE)]) {
      for (col in grep("^KS\\.", names(B), value = TRUE)) B[v, col] <- NA
    }
  }
  for (col in unlist(args$drop_cols)) B[[col]] <- NULL
  out <- list()
  for (col in names(B)) out[[col]] <- setNames(B[[col]], rownames(B))
  O <- b$Observations
  out$Observations <- list(Control = unname(O[[1]]), Treated = unname(O[[2]]))
  out
}

# The live variant of the held-out cases (their snapshot: real output in snapshots/external/).
real_bal_tab_heldout <- function(data, args) {
  W <- WeightIt::weightit(as.formula(args$formula), data = data, method = "glm",
                          estimand = args$estimand)
  b <- cobalt::bal.tab(W, stats = c("mean.diffs", "variance.ratios", "ks.statistics"),
                       un = TRUE, binary = args$binary, quick = FALSE)
  B <- b$Balance
  out <- list()
  for (col in c("Type", "Diff.Un", "V.Ratio.Un", "KS.Un", "Diff.Adj", "V.Ratio.Adj", "KS.Adj",
                "M.0.Un", "M.1.Un", "M.0.Adj", "M.1.Adj")) {
    out[[col]] <- setNames(B[[col]], rownames(B))
  }
  O <- b$Observations
  out$Observations <- list(Control = unname(O[["Control"]]), Treated = unname(O[["Treated"]]))
  out
}

# Achieved balance of WeightIt's ebal / cbps weights: the largest |standardised mean
# difference| over the covariates cobalt reports (distance rows excluded), with WeightIt's
# optimiser tightened (reltol = 1e-16).
real_balance_max <- function(data, args) {
  args$reltol <- 1e-16
  W <- suppressWarnings(.bt_weightit(data, args))
  B <- cobalt::bal.tab(W, stats = "mean.diffs", binary = "std")$Balance
  list(tight = max(abs(B$Diff.Adj[B$Type != "Distance"])))
}
