# Reference values for bootstrap intervals of omega, CR, AVE and HTMT (semTools), on draws
# shared with the Python side: R's and numpy's generators differ, so the draws themselves are
# the fixture (data/hs_bootstrap_draws.csv: one draw per line, 0-based row numbers of
# data/hs.csv, made by analysis.bootstrap.resample(301, 100, seed = 2026)).
#
#   make reference      # runs this after the other reference scripts
#
# Needs Debian's r-base-core r-cran-lavaan r-cran-semtools r-cran-jsonlite. CI does not run this:
# the JSON it writes (tests/reference/bootstrap.json) is committed.

suppressPackageStartupMessages({
  library(lavaan)
  library(semTools)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
here <- if (length(args)) args[1] else "tests/reference"
data_dir <- file.path(here, "data")

HS <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
hs <- read.csv(file.path(data_dir, "hs.csv"))
draws <- as.matrix(read.csv(file.path(data_dir, "hs_bootstrap_draws.csv"), header = FALSE)) + 1

numbers <- function(data) {
  fit <- cfa(HS, data = data)
  if (!lavInspect(fit, "converged")) return(NULL)
  omega <- compRelSEM(fit, obs.var = FALSE)
  cr <- compRelSEM(fit)
  ave <- AVE(fit)
  h <- htmt(HS, data = data)
  c(setNames(omega, paste0("omega_total:", names(omega))),
    setNames(cr, paste0("composite_reliability:", names(cr))),
    setNames(ave, paste0("ave:", names(ave))),
    "htmt:visual~textual" = h["textual", "visual"],
    "htmt:visual~speed" = h["speed", "visual"],
    "htmt:textual~speed" = h["speed", "textual"])
}

estimates <- numbers(hs)
values <- t(apply(draws, 1, function(rows) numbers(hs[rows, ])))
intervals <- apply(values, 2, quantile, probs = c(0.025, 0.975), type = 7, na.rm = TRUE)

out <- list(
  versions = list(R = R.version.string, lavaan = as.character(packageVersion("lavaan")),
                  semTools = as.character(packageVersion("semTools"))),
  model = HS, draws = nrow(draws), seed = 2026,
  estimates = as.list(estimates),
  values = lapply(split(values, col(values)), unname),
  names = colnames(values),
  intervals = lapply(setNames(seq_len(ncol(intervals)), colnames(intervals)),
                     function(k) unname(intervals[, k]))
)
names(out$values) <- colnames(values)
write_json(out, file.path(here, "bootstrap.json"), digits = NA, auto_unbox = TRUE,
           pretty = FALSE)
cat("wrote", file.path(here, "bootstrap.json"), "\n")
