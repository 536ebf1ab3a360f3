# Reference values for full-information maximum likelihood (lavaan's missing = "ml").
#
#   make reference      # runs this after the other reference scripts
#
# Needs Debian's r-base-core r-cran-lavaan r-cran-semtools r-cran-psych r-cran-jsonlite.
# CI does not run this: the JSON it writes (tests/reference/fiml.json) and the two data files
# with generated missingness (data/hs_mcar.csv, data/hs_mar.csv) are committed.

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
                 semTools = as.character(packageVersion("semTools")))

FIT <- c("npar", "ntotal", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi",
         "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr", "logl",
         "unrestricted.logl", "aic", "bic")
ROBUST <- c("chisq.scaled", "pvalue.scaled", "chisq.scaling.factor", "baseline.chisq.scaled",
            "baseline.chisq.scaling.factor", "cfi.robust", "tli.robust", "rmsea.robust",
            "rmsea.ci.lower.robust", "rmsea.ci.upper.robust")

describe <- function(fit, robust) {
  keys <- if (robust) c(FIT, ROBUST) else FIT
  pe <- parameterEstimates(fit, standardized = TRUE)
  cov <- lavInspect(fit, "coverage")
  if (!is.list(cov) || is.matrix(cov)) cov <- list(cov)
  list(
    fit = lapply(as.list(fitMeasures(fit, keys)), unname),
    groups = lavInspect(fit, "group.label"),
    nobs = unlist(lavInspect(fit, "nobs")),
    patterns = unlist(lapply(lavTech(fit, "patterns"), nrow)),
    lowest_coverage = min(unlist(lapply(cov, function(m) m[lower.tri(m, diag = TRUE)]))),
    estimates = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs,
                           group = if (is.null(pe$group)) 1L else pe$group,
                           est = pe$est, se = pe$se, std_all = pe$std.all,
                           stringsAsFactors = FALSE)
  )
}

both <- function(model, data, ...) {
  list(ml = describe(cfa(model, data = data, missing = "ml", ...), robust = FALSE),
       mlr = describe(cfa(model, data = data, missing = "ml", estimator = "MLR", ...),
                      robust = TRUE))
}

# ---------------------------------------------------------------- psych's bfi, as it comes
bfi_groups <- list(agree = paste0("A", 1:5), consc = paste0("C", 1:5),
                   extra = paste0("E", 1:5), neuro = paste0("N", 1:5), open = paste0("O", 1:5))
bfi_model <- paste(mapply(function(f, i) paste(f, "=~", paste(i, collapse = " + ")),
                          names(bfi_groups), bfi_groups), collapse = "\n")
bfi <- read.csv(file.path(data_dir, "bfi.csv"))
bfi_out <- c(list(model = bfi_model), both(bfi_model, bfi))

# ---------------------------------------------------------------- Holzinger-Swineford with
# missingness made here: MCAR (each answer of x2, x3, x5, x6, x8, x9 missing with p = .15) and
# MAR (x2, x3 missing more often when x1 is low; x5, x6 when x4 is high; x8, x9 when x7 is high)
hs <- read.csv(file.path(data_dir, "hs.csv"))
set.seed(2026)
mcar <- hs
for (v in c("x2", "x3", "x5", "x6", "x8", "x9")) mcar[[v]][runif(nrow(hs)) < 0.15] <- NA
write.csv(mcar, file.path(data_dir, "hs_mcar.csv"), row.names = FALSE, na = "")
mar <- hs
p_low_x1 <- plogis(-2 - 1.5 * as.numeric(scale(hs$x1)))
p_high_x4 <- plogis(-2 + 1.5 * as.numeric(scale(hs$x4)))
p_high_x7 <- plogis(-2 + 1.0 * as.numeric(scale(hs$x7)))
for (v in c("x2", "x3")) mar[[v]][runif(nrow(hs)) < p_low_x1] <- NA
for (v in c("x5", "x6")) mar[[v]][runif(nrow(hs)) < p_high_x4] <- NA
for (v in c("x8", "x9")) mar[[v]][runif(nrow(hs)) < p_high_x7] <- NA
write.csv(mar, file.path(data_dir, "hs_mar.csv"), row.names = FALSE, na = "")

hs_model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
hs_mcar <- read.csv(file.path(data_dir, "hs_mcar.csv"))
hs_mar <- read.csv(file.path(data_dir, "hs_mar.csv"))
hs_out <- list(
  model = hs_model,
  mcar = both(hs_model, hs_mcar),
  mar = both(hs_model, hs_mar),
  # reliability from the FIML solution, as semTools computes it
  mar_reliability = local({
    fit <- cfa(hs_model, data = hs_mar, missing = "ml")
    list(composite_reliability = as.list(compRelSEM(fit)),
         omega_model = as.list(compRelSEM(fit, obs.var = FALSE)),
         ave = as.list(AVE(fit)))
  }),
  # one multi-group case: configural and scalar by school, on the MAR data
  mar_school = list(
    configural = both(hs_model, hs_mar, group = "school"),
    scalar = both(hs_model, hs_mar, group = "school",
                  group.equal = c("loadings", "intercepts")))
)

write_json(list(versions = versions, bfi = bfi_out, hs = hs_out),
           file.path(here, "fiml.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote", file.path(here, "fiml.json"), "\n")
