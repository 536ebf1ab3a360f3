# Reference values for two-level CFA (lavaan's `level: 1` / `level: 2` blocks, fitted by ML with
# cluster =, on complete rows and by two-level FIML with missing = "ml"), the ICC of every item,
# and reliability per level (semTools' compRelSEM on the two-level model).
#
#   make reference      # runs this after the other reference scripts
#
# Needs Debian's r-base-core r-cran-lavaan r-cran-semtools r-cran-jsonlite. CI does not run
# this: the JSON it writes (tests/reference/twolevel.json) is committed, with the data it reads
# (data/demo_twolevel.csv, lavaan's Demo.twolevel, from make_cluster_reference.R, and
# data/clinic.csv, a simulated clinic export of up to four sessions per patient).

suppressPackageStartupMessages({
  library(lavaan)
  library(semTools)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
here <- if (length(args)) args[1] else "tests/reference"
data_dir <- file.path(here, "data")
versions <- list(R = R.version.string, lavaan = as.character(packageVersion("lavaan")),
                 semTools = as.character(packageVersion("semTools")))

FIT <- c("npar", "ntotal", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi",
         "tli", "rmsea", "srmr", "srmr_within", "srmr_between", "logl", "unrestricted.logl",
         "aic", "bic")

describe_twolevel <- function(fit) {
  pe <- parameterEstimates(fit, standardized = TRUE)
  h1 <- lavInspect(fit, "h1")
  list(
    fit = lapply(as.list(fitMeasures(fit, FIT)), unname),
    clusters = lavInspect(fit, "nclusters"),
    icc = as.list(lavInspect(fit, "icc")),
    h1 = list(within = unname(h1$within$cov), between = unname(h1[[2]]$cov),
              between_mean = unname(h1[[2]]$mean)),
    estimates = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, level = pe$level,
                           est = pe$est, se = pe$se, std_all = pe$std.all,
                           stringsAsFactors = FALSE)
  )
}

# compRelSEM's table (a row per coefficient, a column per factor) as {factor: {coefficient}}
# (or, for one factor, a list of that factor's named coefficients)
omega <- function(x) {
  if (is.list(x) && !is.data.frame(x)) return(lapply(x, as.list))
  x <- as.matrix(x)
  setNames(lapply(colnames(x), function(f) as.list(setNames(x[, f], rownames(x)))), colnames(x))
}

# ---------------------------------------------------------------- lavaan's Demo.twolevel:
# 2,500 rows in 200 clusters; two factors within, one between (a shared construct)
demo <- read.csv(file.path(data_dir, "demo_twolevel.csv"))
shared_model <- paste("level: 1", "fw1 =~ y1 + y2 + y3", "fw2 =~ y4 + y5 + y6",
                      "level: 2", "fb =~ y1 + y2 + y3 + y4 + y5 + y6", sep = "\n")
shared <- sem(shared_model, data = demo, cluster = "cluster")
# the same two factors at both levels (configural constructs)
config_model <- paste("level: 1", "fw1 =~ y1 + y2 + y3", "fw2 =~ y4 + y5 + y6",
                      "level: 2", "fw1 =~ y1 + y2 + y3", "fw2 =~ y4 + y5 + y6", sep = "\n")
config <- sem(config_model, data = demo, cluster = "cluster")
# the same with answers missing at random (data/demo_twolevel_mcar.csv), by two-level FIML
mcar <- read.csv(file.path(data_dir, "demo_twolevel_mcar.csv"))
shared_fiml <- sem(shared_model, data = mcar, cluster = "cluster", missing = "ml")
demo_out <- list(
  shared_fiml = c(list(model = shared_model), describe_twolevel(shared_fiml),
                  list(reliability = omega(compRelSEM(shared_fiml, shared = "fb")$shared))),
  shared = c(list(model = shared_model), describe_twolevel(shared),
             list(reliability = omega(compRelSEM(shared, shared = "fb")$shared))),
  config = c(list(model = config_model), describe_twolevel(config),
             list(reliability = omega(suppressWarnings(
               compRelSEM(config, config = c("fw1", "fw2"))$config))))
)

# ---------------------------------------------------------------- a simulated clinic export,
# sessions within patients, complete rows: each pillar within patients (configural: the same
# name at both levels) and each pillar between patients as a factor of its own (shared), as
# `alliance validate --levels pillars` fits them
clinic <- read.csv(file.path(data_dir, "clinic.csv"))
items <- grep("^p[bgt][0-9]+$", names(clinic), value = TRUE)
clinic <- clinic[complete.cases(clinic[, items]), c("respondent_id", items)]
pillar <- c(b = "bond", g = "goals", t = "tasks")[substr(items, 2, 2)]
lines_for <- function(suffix) paste(sapply(unique(pillar), function(p)
  paste0(p, suffix, " =~ ", paste(items[pillar == p], collapse = " + "))), collapse = "\n")
config_model <- paste("level: 1", lines_for(""), "level: 2", lines_for(""), sep = "\n")
config_fit <- sem(config_model, data = clinic, cluster = "respondent_id")
shared_model <- paste("level: 1", lines_for(""), "level: 2", lines_for("_between"), sep = "\n")
shared_fit <- sem(shared_model, data = clinic, cluster = "respondent_id")
# omega within of a factor at level 1 only: compRelSEM's omega_W formula (the factor's common
# variance of the item sum over the sum's within variance in the unrestricted model)
omega_within <- function(fit, factor) {
  est <- lavInspect(fit, "est")$within
  ind <- names(which(est$lambda[, factor] != 0))
  lam <- est$lambda[ind, factor]
  sum(lam)^2 * est$psi[factor, factor] / sum(lavInspect(fit, "h1")$within$cov[ind, ind])
}
# every row, missing answers by two-level FIML
everyone <- read.csv(file.path(data_dir, "clinic.csv"))[, c("respondent_id", items)]
shared_fiml <- sem(shared_model, data = everyone, cluster = "respondent_id", missing = "ml")
clinic_out <- list(
  shared_fiml = c(list(model = shared_model), describe_twolevel(shared_fiml)),
  config = c(list(model = config_model), describe_twolevel(config_fit),
             list(reliability = omega(suppressWarnings(
               compRelSEM(config_fit, config = c("bond", "goals", "tasks"))$config)))),
  shared = c(list(model = shared_model), describe_twolevel(shared_fit),
             list(reliability = c(
               omega(compRelSEM(shared_fit, shared = paste0(unique(pillar), "_between"))$shared),
               lapply(setNames(unique(pillar), unique(pillar)),
                      function(f) list(omega_W = omega_within(shared_fit, f))))))
)

write_json(list(versions = versions, demo = demo_out, clinic = clinic_out),
           file.path(here, "twolevel.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
