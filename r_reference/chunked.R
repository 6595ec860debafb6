# Reference functions for carts_iptw.resampling.chunked: the real cobalt on the whole data (the
# chunked functions must give the in-memory answer). survfit_by_stratum's cases use
# survival.R's ref_survfit.
suppressPackageStartupMessages({
  library(WeightIt)
  library(cobalt)
})

# cobalt's group means, (standardised) mean differences and variance ratios, unadjusted and
# with WeightIt's glm weights: bal.tab(W, disp = "means", stats = c("mean.diffs",
# "variance.ratios")), every column of $Balance.
ref_balance_means <- function(data, args) {
  W <- WeightIt::weightit(as.formula(args$formula), data = data, method = "glm",
                          estimand = args$estimand)
  b <- cobalt::bal.tab(W, stats = c("mean.diffs", "variance.ratios"), un = TRUE,
                       disp = "means", quick = TRUE)
  B <- b$Balance
  B <- B[rownames(B) != "prop.score", ]  # the distance row: balance_chunked takes covariates
  out <- list()
  for (col in names(B)) out[[col]] <- setNames(B[[col]], rownames(B))
  out
}
