# Reference values for cluster-robust inference on a single-level model (lavaan's cluster =,
# which under MLR gives se = "robust.cluster" and test = "yuan.bentler.mplus").
#
#   make reference      # runs this after the other reference scripts
#
# Needs Debian's r-base-core r-cran-lavaan r-cran-jsonlite. CI does not run this: the JSON it
# writes (tests/reference/cluster.json) and the data files it reads or writes are committed:
# data/demo_twolevel.csv (lavaan's own Demo.twolevel, written here), data/demo_twolevel_mcar.csv
# (the same with answers missing at random, made here) and data/clinic.csv (a simulated clinic
# export, four sessions per patient, from `make reference`).

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
         "cfi.scaled", "tli.scaled", "rmsea.scaled", "cfi.robust", "tli.robust",
         "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust")

describe_fit <- function(fit) describe(fit, FIT)

# ---------------------------------------------------------------- lavaan's Demo.twolevel:
# 2,500 rows in 200 clusters; y1-y6 measured within
demo <- Demo.twolevel[, c("y1", "y2", "y3", "y4", "y5", "y6", "cluster")]
write.csv(demo, file.path(data_dir, "demo_twolevel.csv"), row.names = FALSE)
demo_model <- "fw1 =~ y1 + y2 + y3\nfw2 =~ y4 + y5 + y6"
demo_out <- list(
  model = demo_model,
  mlr_cluster = describe_fit(cfa(demo_model, data = demo, cluster = "cluster", estimator = "MLR")),
  mlr = describe_fit(cfa(demo_model, data = demo, estimator = "MLR", meanstructure = TRUE))
)

# The same with answers missing completely at random (each of y2, y3, y5, y6 with p = .12),
# fitted by FIML with the clusters.
set.seed(2027)
mcar <- demo
for (v in c("y2", "y3", "y5", "y6")) mcar[[v]][runif(nrow(mcar)) < 0.12] <- NA
write.csv(mcar, file.path(data_dir, "demo_twolevel_mcar.csv"), row.names = FALSE, na = "")
mcar <- read.csv(file.path(data_dir, "demo_twolevel_mcar.csv"))
demo_out$fiml_cluster <- describe_fit(cfa(demo_model, data = mcar, cluster = "cluster",
                                      estimator = "MLR", missing = "ml"))

# ---------------------------------------------------------------- a simulated clinic export:
# four sessions per patient, clustered by patient; the alliance's three pillars
clinic <- read.csv(file.path(data_dir, "clinic.csv"))
items <- grep("^p[bgt][0-9]+$", names(clinic), value = TRUE)
pillar <- c(b = "bond", g = "goals", t = "tasks")[substr(items, 2, 2)]
clinic_model <- paste(sapply(unique(pillar), function(p)
  paste(p, "=~", paste(items[pillar == p], collapse = " + "))), collapse = "\n")
# reverse-keyed items as the export gives them: the model is fitted to the columns as they are
clinic_out <- list(
  model = clinic_model,
  mlr_cluster = describe_fit(cfa(clinic_model, data = clinic, cluster = "respondent_id",
                             estimator = "MLR", missing = "ml")),
  # the same export's sessions nested in its 20 clinicians
  mlr_clinician = describe_fit(cfa(clinic_model, data = clinic, cluster = "clinician_id",
                               estimator = "MLR", missing = "ml"))
)

write_json(list(versions = versions, demo = demo_out, clinic = clinic_out),
           file.path(here, "cluster.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
