# geepack::geeglm (Debian r-cran-geepack) with an independence working correlation and the
# sandwich SE ("san.se"): the robust-SE route of Hernan & Robins' What If (Program 12.2);
# normal reference and Wald limits, as the book.
ref_geeglm <- function(data, args) {
  fit <- do.call(geepack::geeglm,
                 list(formula = as.formula(args$formula), data = data,
                      weights = as.name(args$weights), id = as.name(args$id),
                      family = get(args$family)(), corstr = "independence",
                      std.err = "san.se"))
  cf <- coef(fit)
  V <- unclass(vcov(fit))
  se <- sqrt(diag(V))
  tv <- cf / se
  q <- qnorm(0.975)
  list(coef = cf, se = se, vcov = V, tvalues = tv, pvalues = 2 * pnorm(-abs(tv)),
       lower = cf - q * se, upper = cf + q * se)
}
