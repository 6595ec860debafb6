# Real WeightIt / cobalt, for the live variant of the cases whose snapshot came from them.
# These packages are not installable here (no CRAN); the cases then compare with the recorded
# real output in tests/parity/snapshots/external/ and this live variant is skipped.

real_weightit_glm <- function(data, args) {
  W <- WeightIt::weightit(as.formula(args$formula), data = data, method = "glm",
                          estimand = args$estimand, include.obj = TRUE)
  s <- summary(W)
  list(ps = unname(W$ps), weights = unname(W$weights),
       ess_weighted = unname(unlist(s$effective.sample.size["Weighted", c("Control", "Treated")])),
       range_treated = unname(s$weight.range$treated), range_control = unname(s$weight.range$control),
       top_treated = unname(s$weight.top$treated), top_control = unname(s$weight.top$control),
       coef_of_var = unname(s$coef.of.var[c("treated", "control")]),
       scaled_mad = unname(s$scaled.mad[c("treated", "control")]),
       negative_entropy = unname(s$negative.entropy[c("treated", "control")]),
       deviance = deviance(W$obj))
}

real_bal_tab <- function(data, args) {
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
