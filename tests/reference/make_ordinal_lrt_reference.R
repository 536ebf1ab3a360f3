# Reference values for chi-square difference tests between nested models of ordinal items
# (lavaan's lavTestLRT with method = "satorra.2000" and the scaled-and-shifted statistic, its
# default under WLSMV and ULSMV).
#
#   make reference      # runs this after the other reference scripts
#
# Needs Debian's r-base-core r-cran-lavaan r-cran-jsonlite. CI does not run this: the JSON it
# writes (tests/reference/ordinal_lrt.json) is committed; data/hs_ordinal.csv is written by
# make_ordinal_reference.R.

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
here <- if (length(args)) args[1] else "tests/reference"
data_dir <- file.path(here, "data")
source(file.path(here, "describe.R"))

hs <- read.csv(file.path(data_dir, "hs_ordinal.csv"))
three <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
one <- "general =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9"

difference <- function(restricted, free) {
  lrt <- lavTestLRT(free, restricted)
  list(delta_chisq = lrt[["Chisq diff"]][2], delta_df = lrt[["Df diff"]][2],
       p = lrt[["Pr(>Chisq)"]][2])
}

out <- list()
for (estimator in c("WLSMV", "ULSMV")) {
  key <- tolower(estimator)
  fit_three <- cfa(three, data = hs, ordered = TRUE, estimator = estimator)
  fit_one <- cfa(one, data = hs, ordered = TRUE, estimator = estimator)
  configural <- cfa(three, data = hs, ordered = TRUE, estimator = estimator, group = "school")
  metric <- cfa(three, data = hs, ordered = TRUE, estimator = estimator, group = "school",
                group.equal = c("thresholds", "loadings"))
  out[[key]] <- list(
    one_vs_three = difference(fit_one, fit_three),
    configural_vs_metric = difference(metric, configural),
    groups = lavInspect(configural, "group.label")
  )
}

write_json(c(list(versions = versions, three = three, one = one), out),
           file.path(here, "ordinal_lrt.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
