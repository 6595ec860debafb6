# Functions that let the test suite check the Python <-> R data conversion itself.

describe_columns <- function(data, args) {
  out <- list()
  for (v in names(data)) {
    x <- data[[v]]
    out[[v]] <- list(
      class = class(x)[1], typeof = typeof(x), n_na = sum(is.na(x)), is_object = is.object(x),
      n_nan = if (is.double(x)) sum(is.nan(x)) else 0L,
      levels = if (is.factor(x)) levels(x) else character(0)
    )
  }
  out$.rownames <- rownames(data)
  out
}

echo_data <- function(data, args) data

echo_args <- function(data, args) args

named_values <- function(data, args) {
  m <- matrix(c(1, 2, 3, 4), 2, dimnames = list(c("a", "b"), c("x", "y")))
  list(vec = c(alpha = 1.5, beta = NA), int = c(1L, NA_integer_), lgl = c(TRUE, NA, FALSE),
       chr = c("u", NA), fac = factor(c("lo", "hi"), levels = c("lo", "hi")), mat = m,
       scalar = pi, nested = list(inner = 2))
}

model_matrix_names <- function(data, args) colnames(model.matrix(stats::as.formula(args$formula), data))
