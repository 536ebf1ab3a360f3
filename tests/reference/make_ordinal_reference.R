# Reference values for ordinal items: thresholds, polychoric correlations and WLSMV
# (lavaan's cfa(..., ordered = TRUE), DWLS with robust standard errors and the mean-and-variance
# adjusted, scaled and shifted test statistic).
#
#   make reference      # runs this after the other reference scripts
#
# Needs Debian's r-base-core r-cran-lavaan r-cran-semtools r-cran-psych r-cran-jsonlite.
# CI does not run this: the JSON it writes (tests/reference/ordinal.json) and the data files
# it reads are committed. data/alliance_short.csv comes from `alliance simulate` (Makefile);
# data/hs_ordinal.csv is written here: data/hs.csv with each test cut into three equal-width
# bins, as lavaan's and semTools' examples do; data/hs_mixed.csv cuts only x1-x3.

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

FIT <- c("npar", "ntotal", "chisq", "df", "pvalue", "chisq.scaled", "df.scaled",
         "pvalue.scaled", "chisq.scaling.factor", "chisq.shift.parameters", "baseline.chisq",
         "baseline.df", "baseline.chisq.scaled", "baseline.chisq.scaling.factor",
         "baseline.chisq.shift.parameters", "cfi", "tli", "cfi.scaled", "tli.scaled",
         "cfi.robust", "tli.robust", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
         "rmsea.scaled", "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled", "rmsea.robust",
         "rmsea.ci.lower.robust", "rmsea.ci.upper.robust", "srmr")

describe <- function(fit) {
  pe <- parameterEstimates(fit, standardized = TRUE)
  fm <- fitMeasures(fit, FIT)
  gamma <- lavInspect(fit, "gamma")
  wls_v <- lavInspect(fit, "wls.v")
  if (!is.list(gamma) || is.matrix(gamma)) gamma <- list(gamma)
  if (!is.list(wls_v) || is.matrix(wls_v)) wls_v <- list(wls_v)
  sampstat <- lavInspect(fit, "sampstat")
  if (!is.null(sampstat$cov)) sampstat <- list(sampstat)
  list(
    fit = lapply(as.list(fm), function(x) if (is.na(x)) NULL else unname(x)),
    nobs = unlist(lavInspect(fit, "nobs")),
    groups = lavInspect(fit, "group.label"),
    estimates = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs,
                           group = if (is.null(pe$group)) 1L else pe$group,
                           est = pe$est, se = pe$se, std_all = pe$std.all,
                           stringsAsFactors = FALSE),
    sample = lapply(sampstat, function(s) list(
      thresholds = unname(s$th), correlations = unname(unclass(s$cov)))),
    gamma_diag = lapply(gamma, function(m) unname(diag(m))),
    gamma_first_row = lapply(gamma, function(m) unname(m[1, ])),
    wls_v_diag = lapply(wls_v, function(m) unname(diag(m)))
  )
}

model_of <- function(groups) {
  paste(mapply(function(f, i) paste(f, "=~", paste(i, collapse = " + ")), names(groups),
               groups), collapse = "\n")
}

# ---------------------------------------------------------------- psych's bfi (6-point items)
bfi_groups <- list(agree = paste0("A", 1:5), consc = paste0("C", 1:5),
                   extra = paste0("E", 1:5), neuro = paste0("N", 1:5), open = paste0("O", 1:5))
bfi_model <- model_of(bfi_groups)
bfi <- read.csv(file.path(data_dir, "bfi.csv"))
bfi_items <- unlist(bfi_groups)
bfi_fit <- cfa(bfi_model, data = bfi, ordered = TRUE)
bfi_pairwise <- cfa(bfi_model, data = bfi, ordered = TRUE, missing = "pairwise")
bfi_ml <- cfa(bfi_model, data = bfi)  # ML on the same rows, to state the issue's contrast
bfi_complete <- bfi[complete.cases(bfi[, bfi_items]), bfi_items]
bfi_poly <- polychoric(bfi_complete)$rho

# ---------------------------------------------------------------- Holzinger-Swineford, cut
hs_model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
hs <- read.csv(file.path(data_dir, "hs.csv"))
for (x in paste0("x", 1:9)) hs[[x]] <- cut(hs[[x]], 3, labels = FALSE)
write.csv(hs, file.path(data_dir, "hs_ordinal.csv"), row.names = FALSE)
hs_fit <- cfa(hs_model, data = hs, ordered = paste0("x", 1:9))
hs_std <- cfa(hs_model, data = hs, ordered = paste0("x", 1:9), std.lv = TRUE)
hs_saturated <- cfa("visual =~ x1 + x2 + x3", data = hs, ordered = TRUE)  # df = 0
# Mixed: x1-x3 cut into three categories, x4-x9 continuous as they come (polyserial and
# Pearson correlations beside the polychoric ones; written as data/hs_mixed.csv).
hs_mixed <- read.csv(file.path(data_dir, "hs.csv"))
for (x in paste0("x", 1:3)) hs_mixed[[x]] <- cut(hs_mixed[[x]], 3, labels = FALSE)
write.csv(hs_mixed, file.path(data_dir, "hs_mixed.csv"), row.names = FALSE)
hs_mixed_fit <- cfa(hs_model, data = hs_mixed, ordered = paste0("x", 1:3))
# Ordinal invariance across schools, lavaan's default (delta) identification: configural;
# thresholds and loadings equal (scale factors and latent means then free in the second
# group); and intercepts as well, which changes nothing for ordinal items (fixed at 0).
hs_levels <- list(configural = "", metric = c("thresholds", "loadings"),
                  scalar = c("thresholds", "loadings", "intercepts"))
hs_school <- lapply(hs_levels, function(ge) {
  describe(cfa(hs_model, data = hs, ordered = TRUE, group = "school", group.equal = ge))
})

# ---------------------------------------------------------------- simulated alliance export
short_groups <- list(bond = c("pb01", "pb03", "pb04", "pb07"),
                     goals = c("pg01", "pg03", "pg04", "pg07"),
                     tasks = c("pt01", "pt03", "pt05", "pt08"))
short_model <- model_of(short_groups)
short <- read.csv(file.path(data_dir, "alliance_short.csv"))
short_items <- unlist(short_groups)
short_fit <- cfa(short_model, data = short, ordered = TRUE)
short_complete <- short[complete.cases(short[, short_items]), short_items]

ordinal_reliability <- function(fit, data, groups) {
  rel <- compRelSEM(fit, ord.scale = TRUE)
  alpha_poly <- lapply(groups, function(items) {
    r <- polychoric(data[, items])$rho
    unname(psych::alpha(r, warnings = FALSE)$total$raw_alpha)
  })
  list(omega = as.list(rel), alpha_polychoric = alpha_poly)
}

parallel_poly <- function(data) {
  set.seed(20261202)
  pa <- fa.parallel(data, cor = "poly", fa = "fa", n.iter = 20, plot = FALSE)
  list(nfactors = pa$nfact, observed = unname(pa$fa.values))
}

out <- list(
  versions = versions,
  bfi = list(model = bfi_model, wlsmv = describe(bfi_fit),
             pairwise = describe(bfi_pairwise),
             ml_std_loadings = unname(standardizedSolution(bfi_ml)$est.std[1:25]),
             ml_cfi = unname(fitMeasures(bfi_ml, "cfi")),
             polychoric = unname(bfi_poly),
             reliability = ordinal_reliability(bfi_fit, bfi_complete, bfi_groups),
             parallel = parallel_poly(bfi_complete)),
  hs = list(model = hs_model, wlsmv = describe(hs_fit), std_lv = describe(hs_std),
            saturated = describe(hs_saturated), mixed = describe(hs_mixed_fit),
            school = hs_school),
  alliance_short = list(model = short_model, wlsmv = describe(short_fit),
                        reliability = ordinal_reliability(short_fit, short_complete,
                                                          short_groups),
                        parallel = parallel_poly(short_complete))
)

write_json(out, file.path(here, "ordinal.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote", file.path(here, "ordinal.json"), "\n")
