# Reference values for the patient-clinician agreement with the patients as clusters, from R's
# lme4: per pillar, on the sessions both sides rated, the difference clinician minus patient
# d ~ 1 + (1 | respondent_id) and the two ratings' mean m ~ 1 + (1 | respondent_id), by REML;
# then the bias and its SE, the SD of one session's difference, the limits of agreement and
# ICC(A,1) from those variance components (the formulas of analysis/ruptures/agreement.py).
#
#   make reference      # (re)writes data/agreement_{patient,clinician}.csv and agreement.json
#
# Needs Debian's r-base-core r-cran-lme4 r-cran-jsonlite. CI does not run this: the JSON it
# writes and the two score files it reads (from `alliance simulate --perspectives
# patient,clinician` and `alliance score`, see the Makefile) are committed.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
here <- if (length(args)) args[1] else "tests/reference"
data_dir <- file.path(here, "data")
pillars <- c("bond", "goals", "tasks")
keys <- c("respondent_id", "session", "clinician_id")

side <- function(name) {
  d <- read.csv(file.path(data_dir, paste0("agreement_", name, ".csv")),
                colClasses = c(respondent_id = "character", clinician_id = "character"))
  d[!duplicated(d[, keys]), c(keys, pillars)]
}
pairs <- merge(side("patient"), side("clinician"), by = keys, suffixes = c("_patient", "_clinician"))

control <- lmerControl(check.conv.singular = "ignore")
out <- list()
for (p in pillars) {
  x <- pairs[[paste0(p, "_patient")]]
  y <- pairs[[paste0(p, "_clinician")]]
  keep <- !is.na(x) & !is.na(y)
  used <- data.frame(d = (y - x)[keep], m = ((x + y) / 2)[keep],
                     respondent_id = pairs$respondent_id[keep])
  diff <- lmer(d ~ 1 + (1 | respondent_id), data = used, REML = TRUE, control = control)
  mean <- lmer(m ~ 1 + (1 | respondent_id), data = used, REML = TRUE, control = control)
  var_of <- function(fit) sum(as.data.frame(VarCorr(fit))$vcov)
  bias <- unname(fixef(diff)[1])
  var_d <- var_of(diff)
  error <- var_d / 2
  subjects <- var_of(mean) - error / 2
  raters <- bias^2 / 2 - error / nrow(used)
  out[[p]] <- list(
    paired_sessions = nrow(used),
    patients = length(unique(used$respondent_id)),
    mean_difference = bias,
    mean_difference_se = unname(sqrt(diag(vcov(diff)))[1]),
    sd_difference = sqrt(var_d),
    loa_low = bias - 1.959964 * sqrt(var_d),
    loa_high = bias + 1.959964 * sqrt(var_d),
    icc_a1 = subjects / (subjects + raters + error)
  )
}

write_json(list(versions = list(R = R.version.string,
                                 lme4 = as.character(packageVersion("lme4"))),
                pillars = out),
           file.path(here, "agreement.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
