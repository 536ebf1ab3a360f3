# Reference values for `alliance benchmark`'s mixed model, from R's lme4.
#
#   make reference      # (re)writes tests/reference/data/clinic*.csv and tests/reference/mixed.json
#
# Needs Debian's r-base-core r-cran-lme4 r-cran-jsonlite. CI does not run this: the JSON file
# it writes is committed. The export (clinic.csv) comes from `alliance simulate` and its
# session scores (clinic_scores.csv) from `alliance score` (see the Makefile).
#
# For each pillar: score ~ 1 + (1 | clinician_id / respondent_id), REML, as the benchmark fits
# it (sessions within patients within clinicians). For goals also with case-mix: the patient's
# mean dropout over the sessions with a goals score, centred over patients.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
here <- if (length(args)) args[1] else "tests/reference"
data_dir <- file.path(here, "data")

export <- read.csv(file.path(data_dir, "clinic.csv"), colClasses = "character")
scores <- read.csv(file.path(data_dir, "clinic_scores.csv"), colClasses = "character")
sessions <- merge(scores[, c("response_id", "respondent_id", "clinician_id",
                             "bond", "goals", "tasks")],
                  export[, c("response_id", "dropout")], by = "response_id")
for (column in c("bond", "goals", "tasks", "dropout")) {
  sessions[[column]] <- as.numeric(sessions[[column]])
}

control <- lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5),
                       check.conv.singular = "ignore")

describe <- function(fit, covariate = NULL) {
  vc <- as.data.frame(VarCorr(fit))
  variance <- function(group) vc$vcov[vc$grp == group]
  clinician <- ranef(fit, condVar = TRUE)$clinician_id
  fixed <- fixef(fit)
  out <- list(
    intercept = unname(fixed[1]),
    var_group = variance("clinician_id"),
    var_patient = variance("respondent_id:clinician_id"),
    var_session = variance("Residual"),
    reml_criterion = unname(REMLcrit(fit)),
    shrunken = as.list(setNames(fixed[1] + clinician[, 1], rownames(clinician))),
    shrunken_se = as.list(setNames(sqrt(attr(clinician, "postVar")[1, 1, ]),
                                   rownames(clinician)))
  )
  if (!is.null(covariate)) out$covariate_effect <- unname(fixed[covariate])
  out
}

models <- list()
for (pillar in c("bond", "goals", "tasks")) {
  used <- sessions[!is.na(sessions[[pillar]]), ]
  used$y <- used[[pillar]]
  models[[pillar]] <- describe(
    lmer(y ~ 1 + (1 | clinician_id / respondent_id), data = used, REML = TRUE,
         control = control)
  )
}

used <- sessions[!is.na(sessions$goals), ]
patient <- paste(used$clinician_id, used$respondent_id)
per_patient <- tapply(used$dropout, patient, mean)
used$dropout_c <- unname(per_patient[patient] - mean(per_patient))
models[["goals_adjusted_for_dropout"]] <- describe(
  lmer(goals ~ dropout_c + (1 | clinician_id / respondent_id), data = used, REML = TRUE,
       control = control),
  covariate = "dropout_c"
)

reference <- list(
  versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4"))),
  sessions = nrow(sessions),
  models = models
)
write_json(reference, file.path(here, "mixed.json"), auto_unbox = TRUE, digits = NA,
           pretty = TRUE)
