# Reference functions for carts_iptw.resampling: the REAL fwb 0.3.0's summary / confidence
# intervals (summary.fwb -> confint.fwb -> fwb.ci: "bc", "perc", "norm", "basic") applied to
# the replicates Python drew. R's RNG cannot be replayed, so the draws themselves are not
# compared (the glm_weightit bootstrap cases compare them statistically); this checks what is
# computed from them.

# data: row 1 = the statistic on the full data (t0), rows 2..R+1 = the replicates (t).
real_fwb_summary <- function(data, args) {
  t0 <- unlist(data[1, , drop = TRUE])
  t <- as.matrix(data[-1, , drop = FALSE])
  rownames(t) <- NULL
  obj <- structure(list(t0 = t0, t = t, R = nrow(t),
                        data = data.frame(unit = seq_len(args$n)),
                        statistic = function(data, w) NULL, call = NULL, cluster = NULL,
                        strata = NULL, wtype = "exp"),
                   class = c("fwb", "boot"))
  attr(obj, "boot_type") <- "fwb"
  attr(obj, "simple") <- TRUE
  s <- unclass(summary(obj, conf = args$level, ci.type = args$type))
  list(estimate = s[, 1], se = s[, 2], lower = s[, 3], upper = s[, 4])
}
