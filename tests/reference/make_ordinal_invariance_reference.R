# Reference values for invariance of ordinal items by WLSMV in the theta parameterization
# (lavaan's parameterization = "theta"), its score tests and modification indices.
#
#   make reference      # runs this after the other reference scripts
#
# Needs Debian's r-base-core r-cran-lavaan r-cran-jsonlite. CI does not run this: the JSON it
# writes (tests/reference/ordinal_invariance.json) is committed.
#
# - psych's bfi by gender, agreeableness and conscientiousness, every item ordinal, complete
#   rows (lavaan's default for ordered items): configural, metric (thresholds and loadings),
#   scalar (and intercepts) and strict (and residuals) in the theta parameterization, their
#   fit, the strict model's estimates, and lavTestLRT between the steps;
# - lavTestScore of the metric model: releasing each equality constraint;
# - the strict model written out with its residual variances in the second group tied to 1 by
#   explicit constraints (the same model), so that lavTestScore tests releasing each one;
# - modindices of the one-group model by WLSMV (delta parameterization).

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
here <- if (length(args)) args[1] else "tests/reference"
data_dir <- file.path(here, "data")
source(file.path(here, "describe.R"))

bfi <- read.csv(file.path(data_dir, "bfi_gender.csv"))
MODEL <- "agree =~ A1 + A2 + A3 + A4 + A5\nconsc =~ C1 + C2 + C3 + C4 + C5"
items <- c(paste0("A", 1:5), paste0("C", 1:5))
KEYS <- c("chisq", "df", "chisq.scaled", "df.scaled", "pvalue.scaled", "cfi.scaled",
          "tli.scaled", "rmsea.scaled", "srmr")

fit_level <- function(equal, model = MODEL) {
  cfa(model, data = bfi, ordered = items, group = "gender", parameterization = "theta",
      estimator = "WLSMV", group.equal = equal)
}
configural <- fit_level("")
metric <- fit_level(c("thresholds", "loadings"))
scalar <- fit_level(c("thresholds", "loadings", "intercepts"))
strict <- fit_level(c("thresholds", "loadings", "intercepts", "residuals"))

difference <- function(restricted, free) {
  lrt <- lavTestLRT(free, restricted)
  list(delta_chisq = lrt[["Chisq diff"]][2], delta_df = lrt[["Df diff"]][2],
       p = lrt[["Pr(>Chisq)"]][2])
}

# each constraint's parameters, by the plabels lavTestScore names
score_table <- function(fit, scores) {
  pt <- parTable(fit)
  uni <- scores$uni
  first <- match(uni$lhs, pt$plabel)
  other <- match(uni$rhs, pt$plabel)
  data.frame(lhs = pt$lhs[first], op = pt$op[first], rhs = pt$rhs[first],
             group_a = pt$group[first], group_b = pt$group[other],
             X2 = uni$X2, df = uni$df, p = uni$p.value, stringsAsFactors = FALSE)
}

# strict, written out: residual variances 1 in group 1; in group 2 labelled and held at 1
explicit <- paste(c(MODEL, sprintf("%s ~~ c(1, NA)*%s + c(r%sg1, r%s)*%s", items, items,
                                   items, items, items),
                    sprintf("r%s == 1", items)), collapse = "\n")
written <- cfa(explicit, data = bfi, ordered = items, group = "gender",
               parameterization = "theta", estimator = "WLSMV",
               group.equal = c("thresholds", "loadings", "intercepts"))
written_scores <- lavTestScore(written)
pt <- parTable(written)
eq <- pt[pt$op == "==", ]
residual_rows <- which(eq$rhs == "1")
released <- data.frame(item = sub("^r", "", eq$lhs[residual_rows]),
                       X2 = written_scores$uni$X2[residual_rows],
                       stringsAsFactors = FALSE)

one_group <- cfa(MODEL, data = bfi, ordered = items, estimator = "WLSMV")
mi <- modindices(one_group, sort. = TRUE)

out <- list(
  versions = versions, model = MODEL, items = items, group = "gender",
  groups = lavInspect(configural, "group.label"),
  configural = describe(configural, KEYS),
  metric = describe(metric, KEYS),
  scalar = describe(scalar, KEYS),
  strict = describe(strict, KEYS),
  written_strict_chisq = unname(fitMeasures(written, "chisq.scaled")),
  lrt = list(configural_metric = difference(metric, configural),
             scalar_strict = difference(strict, scalar)),
  metric_scores = list(uni = score_table(metric, lavTestScore(metric)),
                       total = lavTestScore(metric)$test$X2),
  strict_residual_scores = released,
  modindices = data.frame(lhs = mi$lhs, op = mi$op, rhs = mi$rhs, mi = mi$mi, epc = mi$epc,
                          stringsAsFactors = FALSE)
)
write_json(out, file.path(here, "ordinal_invariance.json"), digits = NA, auto_unbox = TRUE,
           pretty = FALSE)
cat("wrote", file.path(here, "ordinal_invariance.json"), "\n")
