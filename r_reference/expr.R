# The study spec's R expressions evaluated by R itself: each expression's value per row
# (logical as 0/1, NA as NA), for the Python evaluator (carts_iptw.study.expr) to match.
ref_expr <- function(data, args) {
  for (v in names(data)) if (inherits(data[[v]], "factor")) class(data[[v]]) <- class(data[[v]])
  if (!is.null(data$d)) data$d <- as.Date(data$d)
  out <- list()
  exprs <- unlist(args$exprs)
  for (i in seq_along(exprs)) {
    v <- eval(parse(text = exprs[[i]]), data)
    if (length(v) == 1) v <- rep(v, nrow(data))
    out[[sprintf("e%02d", i)]] <- as.numeric(v)
    # the rows subset() keeps, for the logical ones
    if (is.logical(v)) out[[sprintf("subset%02d", i)]] <- as.numeric(which(v) - 1)
  }
  out
}
