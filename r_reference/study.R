# The study end to end in R: the script carts_iptw generates beside every run (reproduce.R,
# carts_iptw.study.reproduce.generate_r_script), run here on the case's cohort. One generator:
# the parity cases study.* and `carts-iptw verify` run the same R.
#
# ref_reproduce(data, args): writes `data` as cohort.csv in a fresh folder, runs args$script
# (reproduce.R) there in its own environment, and returns results_R.json flattened to one
# numeric vector per key ("odds_ratios.icans_g3.or", "flow.remaining", ...): the keys of
# carts_iptw.study.verify.quantities. Keys matching a regular expression of args$skip are
# dropped (a quantity the case documents as not compared; Perl regular expressions, as
# Python's re).
suppressPackageStartupMessages(library(jsonlite))

.flatten_results <- function(x, path = "") {
  out <- list()
  if (is.list(x) && !is.null(names(x))) {
    for (k in names(x)) out <- c(out, .flatten_results(x[[k]], if (path == "") k else paste0(path, ".", k)))
  } else if (!(is.list(x) && length(x) == 0)) {
    v <- if (is.list(x)) vapply(x, function(e) if (is.null(e)) NA_real_ else as.numeric(e), 0) else
      if (is.null(x)) NA_real_ else as.numeric(x)
    out[[path]] <- v
  }
  out
}

ref_reproduce <- function(data, args) {
  dir <- tempfile("reproduce-")
  dir.create(dir)
  old <- setwd(dir)
  on.exit({ setwd(old); unlink(dir, recursive = TRUE) }, add = TRUE)
  write.csv(data, "cohort.csv", row.names = FALSE, na = "")
  writeLines(args$script, "reproduce.R")
  source("reproduce.R", local = new.env(parent = globalenv()))
  res <- fromJSON("results_R.json", simplifyVector = FALSE)
  res$versions <- NULL
  flat <- .flatten_results(res)
  for (p in unlist(args$skip)) flat <- flat[!grepl(p, names(flat), perl = TRUE)]
  flat
}
