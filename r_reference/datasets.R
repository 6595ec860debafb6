# Export the R data sets used by the parity cases, exactly, for the Python side.
# Each data set becomes <name>.csv (doubles as %.17g, integers as integers, factors as their
# labels, logicals as TRUE/FALSE, NA as empty) and <name>.meta.json (column types, factor levels
# in R's order, source package and version). Run by `carts-iptw parity datasets`.

parity_datasets <- function() {
  list(
    lalonde = list(pkg = "MatchIt", obj = "lalonde"),
    birthwt = list(pkg = "MASS", obj = "birthwt"),
    rotterdam = list(pkg = "survival", obj = "rotterdam"),
    colon = list(pkg = "survival", obj = "colon"),
    lung = list(pkg = "survival", obj = "lung")
  )
}

load_parity_dataset <- function(name) {
  spec <- parity_datasets()[[name]]
  d <- getExportedValue(spec$pkg, spec$obj)  # lazy data (survival's rotterdam lives in "cancer")
  as.data.frame(d, stringsAsFactors = FALSE)
}

export_dataset <- function(name, dir) {
  spec <- parity_datasets()[[name]]
  d <- load_parity_dataset(name)
  out <- data.frame(row.names = seq_len(nrow(d)))
  cols <- list()
  for (v in names(d)) {
    x <- d[[v]]
    if (is.factor(x)) {
      out[[v]] <- as.character(x)
      cols[[v]] <- list(type = "factor", levels = levels(x))
    } else if (is.logical(x)) {
      out[[v]] <- ifelse(is.na(x), NA, ifelse(x, "TRUE", "FALSE"))
      cols[[v]] <- list(type = "logical")
    } else if (is.integer(x)) {
      out[[v]] <- x
      cols[[v]] <- list(type = "integer")
    } else if (is.numeric(x)) {
      out[[v]] <- ifelse(is.na(x), NA, sprintf("%.17g", x))
      cols[[v]] <- list(type = "double")
    } else {
      out[[v]] <- as.character(x)
      cols[[v]] <- list(type = "character")
    }
  }
  rn <- rownames(d)
  has_rn <- !identical(rn, as.character(seq_len(nrow(d))))
  if (has_rn) out <- cbind(.rownames = rn, out)
  utils::write.csv(out, file.path(dir, paste0(name, ".csv")), row.names = FALSE, na = "")
  meta <- list(
    name = name, source_package = spec$pkg,
    source_version = as.character(utils::packageVersion(spec$pkg)),
    r_version = R.version.string, nrow = nrow(d), rownames = has_rn,
    columns = lapply(names(cols), function(v) c(list(name = v), cols[[v]]))
  )
  writeLines(jsonlite::toJSON(meta, auto_unbox = TRUE, pretty = TRUE),
             file.path(dir, paste0(name, ".meta.json")))
  invisible(TRUE)
}

# Parity case: the data set as R's package has it (not the copy Python sent), column by column.
ref_dataset_columns <- function(data, args) {
  d <- load_parity_dataset(args$name)
  out <- lapply(d, function(x) if (is.factor(x)) as.character(x) else x)
  rn <- rownames(d)
  if (!identical(rn, as.character(seq_len(nrow(d))))) out$.rownames <- rn
  out$.levels <- unlist(lapply(names(d), function(v) if (is.factor(d[[v]])) paste0(v, ":", levels(d[[v]]))))
  out
}
