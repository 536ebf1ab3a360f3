# Reference values for MLM (lavaan's estimator = "MLM": expected-information robust standard
# errors, se = "robust.sem", and the Satorra-Bentler scaled test).
#
#   make reference      # runs this after the other reference scripts
#
# Needs Debian's r-base-core r-cran-lavaan r-cran-jsonlite. CI does not run this: the JSON it
# writes (tests/reference/mlm.json) is committed, and data/hs.csv is lavaan's
# HolzingerSwineford1939 as make_reference.R writes it.

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
here <- if (length(args)) args[1] else "tests/reference"
data_dir <- file.path(here, "data")
source(file.path(here, "describe.R"))

FIT <- c("npar", "ntotal", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi",
         "tli", "rmsea", "srmr", "logl", "aic", "bic", "chisq.scaled", "pvalue.scaled",
         "chisq.scaling.factor", "baseline.chisq.scaled", "baseline.chisq.scaling.factor",
         "cfi.robust", "tli.robust", "rmsea.robust", "rmsea.ci.lower.robust",
         "rmsea.ci.upper.robust")

describe_fit <- function(fit) describe(fit, FIT)

hs <- read.csv(file.path(data_dir, "hs.csv"))
model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
out <- list(
  model = model,
  one_group = describe_fit(cfa(model, data = hs, estimator = "MLM")),
  configural = describe_fit(cfa(model, data = hs, estimator = "MLM", group = "school")),
  scalar = describe_fit(cfa(model, data = hs, estimator = "MLM", group = "school",
                        group.equal = c("loadings", "intercepts")))
)
configural <- cfa(model, data = hs, estimator = "MLM", group = "school")
metric <- cfa(model, data = hs, estimator = "MLM", group = "school", group.equal = "loadings")
lrt <- lavTestLRT(configural, metric)
out$configural_vs_metric <- list(delta_chisq = lrt[["Chisq diff"]][2],
                                 delta_df = lrt[["Df diff"]][2], p = lrt[["Pr(>Chisq)"]][2])

write_json(list(versions = versions, hs = out), file.path(here, "mlm.json"),
           digits = NA, auto_unbox = TRUE, pretty = TRUE)
