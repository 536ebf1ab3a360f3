# Reference values for measurement invariance over sessions: the same patients' sessions 1-3 as
# one longitudinal model (a factor per pillar per session, each item's residuals correlated
# across sessions), configural -> metric -> scalar -> strict, as semTools' measEq.syntax(
# longFacNames = ...) writes it and lavaan fits it with missing = "ml" (sessions a patient did
# not attend, and answers skipped, by FIML).
#
#   make reference      # (re)writes data/longitudinal.csv (alliance simulate) and longitudinal.json
#
# Needs Debian's r-base-core r-cran-lavaan r-cran-semtools r-cran-jsonlite. CI does not run
# this: the JSON it writes and the export it reads are committed. Items are fitted as the export
# gives them; identification by unit loadings (ID.fac = "UL"), which gives the same fit as any
# other.

suppressPackageStartupMessages({
  library(lavaan)
  library(semTools)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
here <- if (length(args)) args[1] else "tests/reference"
data_dir <- file.path(here, "data")

export <- read.csv(file.path(data_dir, "longitudinal.csv"))
items <- grep("^p[bgt][0-9]+$", names(export), value = TRUE)
sessions <- 1:3
long <- export[export$session %in% sessions, c("respondent_id", "session", items)]
wide <- reshape(long, idvar = "respondent_id", timevar = "session", direction = "wide",
                sep = "_s")
pillar <- c(b = "bond", g = "goals", t = "tasks")[substr(items, 2, 2)]
lines <- c()
for (s in sessions) for (p in unique(pillar)) {
  lines <- c(lines, paste0(p, "_s", s, " =~ ", paste0(items[pillar == p], "_s", s,
                                                        collapse = " + ")))
}
configural <- paste(lines, collapse = "\n")
factors <- setNames(lapply(unique(pillar), function(p) paste0(p, "_s", sessions)), unique(pillar))
indicators <- setNames(lapply(items, function(i) paste0(i, "_s", sessions)), items)

FIT <- c("npar", "ntotal", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi",
         "tli", "rmsea", "srmr", "logl", "aic", "bic")
steps <- list(configural = "", metric = "loadings", scalar = c("loadings", "intercepts"),
              strict = c("loadings", "intercepts", "residuals"))
out <- list()
for (name in names(steps)) {
  syntax <- measEq.syntax(configural.model = configural, data = wide, ID.fac = "UL",
                          longFacNames = factors, longIndNames = indicators,
                          long.equal = steps[[name]], missing = "ml")
  fit <- cfa(as.character(syntax), data = wide, missing = "ml")
  pe <- parameterEstimates(fit)
  loadings <- pe[pe$op == "=~", ]
  out[[name]] <- list(
    fit = lapply(as.list(fitMeasures(fit, FIT)), unname),
    loadings = data.frame(lhs = loadings$lhs, rhs = loadings$rhs, est = loadings$est,
                          se = loadings$se)
  )
}

write_json(list(versions = list(R = R.version.string,
                                 lavaan = as.character(packageVersion("lavaan")),
                                 semTools = as.character(packageVersion("semTools"))),
                sessions = sessions, configural = configural, levels = out),
           file.path(here, "longitudinal.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
