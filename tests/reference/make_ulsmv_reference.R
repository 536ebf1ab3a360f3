# Reference values for ULSMV (lavaan's estimator = "ULSMV": unweighted least squares on the
# thresholds and polychoric correlations, robust standard errors, the scaled and shifted test).
#
#   make reference      # runs this after the other reference scripts
#
# Needs Debian's r-base-core r-cran-lavaan r-cran-jsonlite. CI does not run this: the JSON it
# writes (tests/reference/ulsmv.json) is committed; data/hs_ordinal.csv is written by
# make_ordinal_reference.R and data/bfi.csv by make_reference.R.

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
here <- if (length(args)) args[1] else "tests/reference"
data_dir <- file.path(here, "data")
source(file.path(here, "describe.R"))

FIT <- c("npar", "ntotal", "chisq", "df", "pvalue", "chisq.scaled", "pvalue.scaled",
         "chisq.scaling.factor", "chisq.shift.parameters", "baseline.chisq", "baseline.df",
         "baseline.chisq.scaled", "cfi", "tli", "rmsea", "cfi.scaled", "tli.scaled",
         "rmsea.scaled", "cfi.robust", "tli.robust", "rmsea.robust", "srmr")

describe_fit <- function(fit) describe(fit, FIT)

hs <- read.csv(file.path(data_dir, "hs_ordinal.csv"))
hs_model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
bfi_groups <- list(agree = paste0("A", 1:5), consc = paste0("C", 1:5),
                   extra = paste0("E", 1:5), neuro = paste0("N", 1:5), open = paste0("O", 1:5))
bfi_model <- paste(mapply(function(f, i) paste(f, "=~", paste(i, collapse = " + ")),
                          names(bfi_groups), bfi_groups), collapse = "\n")
bfi <- read.csv(file.path(data_dir, "bfi.csv"))

out <- list(
  hs = list(model = hs_model, ulsmv = describe_fit(cfa(hs_model, data = hs, ordered = TRUE,
                                                   estimator = "ULSMV"))),
  bfi = list(model = bfi_model, ulsmv = describe_fit(cfa(bfi_model, data = bfi, ordered = TRUE,
                                                     estimator = "ULSMV")))
)
write_json(c(list(versions = versions), out), file.path(here, "ulsmv.json"),
           digits = NA, auto_unbox = TRUE, pretty = TRUE)
