# Reference values for multi-group CFA and measurement invariance, from R's lavaan and semTools.
#
#   make reference      # runs this after make_reference.R
#
# Needs Debian's r-base-core r-cran-lavaan r-cran-semtools r-cran-psych r-cran-jsonlite.
# CI does not run this: the JSON it writes (tests/reference/invariance.json) is committed.

suppressPackageStartupMessages({
  library(lavaan)
  library(semTools)
  library(psych)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
here <- if (length(args)) args[1] else "tests/reference"
data_dir <- file.path(here, "data")

versions <- list(R = R.version.string, lavaan = as.character(packageVersion("lavaan")),
                 semTools = as.character(packageVersion("semTools")),
                 psych = as.character(packageVersion("psych")))

FIT <- c("npar", "ntotal", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi",
         "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "srmr", "logl",
         "unrestricted.logl", "aic", "bic")
ROBUST <- c("chisq.scaled", "pvalue.scaled", "chisq.scaling.factor", "baseline.chisq.scaled",
            "baseline.chisq.scaling.factor", "cfi.robust", "tli.robust", "rmsea.robust",
            "rmsea.ci.lower.robust", "rmsea.ci.upper.robust", "rmsea.pvalue.robust")

describe <- function(fit, robust) {
  keys <- if (robust) c(FIT, ROBUST) else FIT
  pe <- parameterEstimates(fit, standardized = TRUE)
  std <- standardizedSolution(fit, type = "std.all")
  list(
    fit = lapply(as.list(fitMeasures(fit, keys)), unname),
    groups = lavInspect(fit, "group.label"),
    nobs = unlist(lavInspect(fit, "nobs")),
    estimates = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs,
                           group = if (is.null(pe$group)) 1L else pe$group,
                           est = pe$est, se = pe$se, std_all = pe$std.all, std_se = std$se,
                           stringsAsFactors = FALSE)
  )
}

LEVELS <- list(configural = "", metric = "loadings",
               scalar = c("loadings", "intercepts"),
               strict = c("loadings", "intercepts", "residuals"))

# The label lavaan gives an equality constraint names plabels; turn them into the parameter.
score_tests <- function(fit) {
  pt <- parTable(fit)
  uni <- lavTestScore(fit)$uni
  name_of <- function(plabel) {
    row <- pt[pt$plabel == plabel, ]
    list(lhs = row$lhs, op = row$op, rhs = row$rhs, group = row$group)
  }
  lapply(seq_len(nrow(uni)), function(k) {
    a <- name_of(uni$lhs[k]); b <- name_of(uni$rhs[k])
    list(lhs = a$lhs, op = a$op, rhs = a$rhs, group_a = a$group, group_b = b$group,
         X2 = uni$X2[k])
  })
}

sequence_of <- function(model, data, group, estimator) {
  robust <- estimator == "MLR"
  fits <- lapply(LEVELS, function(eq) cfa(model, data = data, group = group,
                                           group.equal = eq, estimator = estimator))
  described <- lapply(fits, describe, robust = robust)
  steps <- names(LEVELS)
  lrt <- lapply(2:length(steps), function(k) {
    t <- lavTestLRT(fits[[steps[k - 1]]], fits[[steps[k]]])
    list(from = steps[k - 1], to = steps[k], delta_chisq = t[["Chisq diff"]][2],
         delta_df = t[["Df diff"]][2], p = t[["Pr(>Chisq)"]][2])
  })
  list(levels = described, lrt = lrt, score_scalar = score_tests(fits$scalar))
}

# ---------------------------------------------------------------- Holzinger-Swineford by school
hs <- read.csv(file.path(data_dir, "hs.csv"))
hs_model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
hs_labels <- "visual =~ x1 + c(a1, a2)*x2 + c(l3, l3)*x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
hs_out <- list(
  versions = versions,
  model = hs_model,
  ml = sequence_of(hs_model, hs, "school", "ML"),
  mlr = sequence_of(hs_model, hs, "school", "MLR"),
  partial = c(list(group_partial = "x3 ~ 1, x7 ~ 1"),
              describe(cfa(hs_model, data = hs, group = "school",
                           group.equal = c("loadings", "intercepts"),
                           group.partial = c("x3 ~ 1", "x7 ~ 1")), robust = FALSE)),
  labels = c(list(model = hs_labels),
             describe(cfa(hs_labels, data = hs, group = "school"), robust = FALSE))
)

# A saturated model (df = 0) and one lavaan cannot identify (g's loadings, orthogonal to f)
hs_out$saturated <- list(
  model = "visual =~ x1 + x2 + x3",
  ml = as.list(fitMeasures(cfa("visual =~ x1 + x2 + x3", hs),
                           c("chisq", "df", "cfi", "tli", "rmsea", "rmsea.ci.lower",
                             "rmsea.ci.upper", "srmr"))),
  mlr = as.list(fitMeasures(cfa("visual =~ x1 + x2 + x3", hs, estimator = "MLR"),
                            c("chisq", "df", "chisq.scaled", "rmsea.robust",
                              "rmsea.ci.lower.robust", "rmsea.ci.upper.robust"))))
hs_out$unidentified <- list(
  model = "f =~ x1 + x2 + x3\ng =~ x4 + x5\nf ~~ 0*g",
  mlr = as.list(suppressWarnings(fitMeasures(
    cfa("f =~ x1 + x2 + x3\ng =~ x4 + x5\nf ~~ 0*g", hs, estimator = "MLR"),
    c("chisq", "df", "chisq.scaled", "chisq.scaling.factor")))))

# A cross-loading (x9 on visual and speed), as lavaan's syntax allows
hs_out$cross_loading <- c(
  list(model = "visual =~ x1 + x2 + x3 + x9\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"),
  describe(cfa("visual =~ x1 + x2 + x3 + x9\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9",
               hs), robust = FALSE))

# ---------------------------------------------------------------- bfi by gender (listwise)
bfi <- psych::bfi
write.csv(cbind(id = seq_len(nrow(bfi)), bfi[, c(1:25, 26)]),
          file.path(data_dir, "bfi_gender.csv"), row.names = FALSE, na = "")
bfi_groups <- list(agree = paste0("A", 1:5), consc = paste0("C", 1:5),
                   extra = paste0("E", 1:5), neuro = paste0("N", 1:5), open = paste0("O", 1:5))
bfi_model <- paste(mapply(function(f, i) paste(f, "=~", paste(i, collapse = " + ")),
                          names(bfi_groups), bfi_groups), collapse = "\n")
bfi_data <- read.csv(file.path(data_dir, "bfi_gender.csv"))
bfi_out <- list(
  versions = versions,
  model = bfi_model,
  ml = sequence_of(bfi_model, bfi_data, "gender", "ML"),
  mlr = sequence_of(bfi_model, bfi_data, "gender", "MLR")
)

# ---------------------------------------------------------------- composite reliability with
# correlated residuals: lavaan's PoliticalDemocracy measurement model
pd <- lavaan::PoliticalDemocracy
write.csv(cbind(id = seq_len(nrow(pd)), pd), file.path(data_dir, "politicaldemocracy.csv"),
          row.names = FALSE)
pd_model <- "ind60 =~ x1 + x2 + x3
dem60 =~ y1 + y2 + y3 + y4
dem65 =~ y5 + y6 + y7 + y8
y1 ~~ y5
y2 ~~ y4 + y6
y3 ~~ y7
y4 ~~ y8
y6 ~~ y8"
pd_fit <- cfa(pd_model, data = pd)
pd_out <- list(versions = versions, model = pd_model,
               composite_reliability = as.list(compRelSEM(pd_fit)),
               omega_model = as.list(compRelSEM(pd_fit, obs.var = FALSE)),
               ave = as.list(AVE(pd_fit)))

# ---------------------------------------------------------------- parallel analysis on bfi
set.seed(1)
pa_fa <- fa.parallel(bfi[, 1:25], fa = "fa", fm = "minres", n.iter = 20, plot = FALSE)
set.seed(1)
pa_pc <- fa.parallel(bfi[, 1:25], fa = "pc", n.iter = 20, plot = FALSE)
pa_out <- list(nfact = pa_fa$nfact, ncomp = pa_pc$ncomp, fa_values = pa_fa$fa.values,
               pc_values = pa_pc$pc.values)

write_json(list(hs = hs_out, bfi = bfi_out, politicaldemocracy = pd_out, parallel = pa_out),
           file.path(here, "invariance.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote", file.path(here, "invariance.json"), "\n")
