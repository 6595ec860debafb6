# survival::concordancefit as coxph calls it for fit$concordance (reverse = TRUE,
# timefix = FALSE), on random data with heavy ties: right-censored or (start, stop], optional
# strata, case weights and clusters (columns named in args; absent = not used).
suppressPackageStartupMessages(library(survival))
conc_fit <- function(data, args) {
  y <- if (isTRUE(args$counting)) Surv(data$start, data$time, data$ev) else Surv(data$time, data$ev)
  st <- if (isTRUE(args$strata)) data$s else NULL
  cl <- if (isTRUE(args$cluster)) data$cl else NULL
  cf <- concordancefit(y, data$x, strata = st, weights = data$w, cluster = cl,
                       reverse = TRUE, timefix = FALSE)
  count <- if (is.matrix(cf$count)) colSums(cf$count) else cf$count  # per stratum rows
  list(count = unname(count[1:5]), concordance = unname(cf$concordance),
       std = sqrt(unname(cf$var)))
}
