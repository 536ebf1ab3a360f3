# Reference values for the validation tests, from R's lavaan, psych and semTools.
#
#   make reference      # (re)writes tests/reference/data/*.csv and tests/reference/*.json
#
# Needs Debian's r-base-core r-cran-lavaan r-cran-psych r-cran-semtools r-cran-gparotation
# r-cran-jsonlite. CI does not run this: the JSON files it writes are committed.
# tests/reference/data/alliance.csv comes from `alliance simulate` (see the Makefile).

suppressPackageStartupMessages({
  library(lavaan)
  library(psych)
  library(semTools)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
here <- if (length(args)) args[1] else "tests/reference"
data_dir <- file.path(here, "data")

versions <- list(
  R = R.version.string,
  lavaan = as.character(packageVersion("lavaan")),
  psych = as.character(packageVersion("psych")),
  semTools = as.character(packageVersion("semTools")),
  GPArotation = as.character(packageVersion("GPArotation"))
)

# ---------------------------------------------------------------- datasets
hs <- lavaan::HolzingerSwineford1939
write.csv(hs[, c("id", "school", paste0("x", 1:9))], file.path(data_dir, "hs.csv"),
          row.names = FALSE)
bfi <- psych::bfi
write.csv(cbind(id = seq_len(nrow(bfi)), bfi[, 1:25]), file.path(data_dir, "bfi.csv"),
          row.names = FALSE, na = "")
alliance <- read.csv(file.path(data_dir, "alliance.csv"))

FIT <- c("npar", "ntotal", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df",
         "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "srmr",
         "logl", "unrestricted.logl", "aic", "bic")
ROBUST <- c("chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor",
            "baseline.chisq.scaled", "baseline.chisq.scaling.factor", "cfi.robust",
            "tli.robust", "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust")

describe_fit <- function(fit, robust = FALSE) {
  keys <- if (robust) c(FIT, ROBUST) else FIT
  measures <- as.list(fitMeasures(fit, keys))
  pe <- parameterEstimates(fit, standardized = TRUE)
  std <- standardizedSolution(fit, type = "std.all")
  mi <- tryCatch(modindices(fit, sort. = TRUE, maximum.number = 15),
                 error = function(e) data.frame(lhs = character(), op = character(),
                                                rhs = character(), mi = numeric(),
                                                epc = numeric()))
  list(
    fit = lapply(measures, unname),
    estimates = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, est = pe$est, se = pe$se,
                           z = pe$z, pvalue = pe$pvalue, std_all = pe$std.all,
                           std_se = std$se, stringsAsFactors = FALSE),
    modindices = data.frame(lhs = mi$lhs, op = mi$op, rhs = mi$rhs, mi = mi$mi, epc = mi$epc,
                            stringsAsFactors = FALSE),
    residual_cor = unclass(residuals(fit, type = "cor")$cov),
    converged = lavInspect(fit, "converged")
  )
}

models_for <- function(groups) {
  line <- function(f, items) paste(f, "=~", paste(items, collapse = " + "))
  all_items <- unlist(groups)
  three <- paste(mapply(line, names(groups), groups), collapse = "\n")
  two <- paste(line(names(groups)[1], groups[[1]]),
               line("agreement", c(groups[[2]], groups[[3]])), sep = "\n")
  one <- line("general", all_items)
  bifactor <- paste(line("general", all_items), three, sep = "\n")
  list(one_factor = one, two_factor = two, three_factor = three, bifactor = bifactor)
}

run_models <- function(models, data, estimator) {
  out <- list()
  fits <- list()
  for (name in names(models)) {
    # A bifactor model is identified by standardised factors (std.lv), as is usual for it.
    bifactor <- name == "bifactor"
    fit <- suppressWarnings(cfa(models[[name]], data = data, estimator = estimator,
                                orthogonal = bifactor, std.lv = bifactor))
    fits[[name]] <- fit
    described <- if (lavInspect(fit, "converged")) {
      describe_fit(fit, robust = estimator == "MLR")
    } else {
      list(converged = FALSE)
    }
    out[[name]] <- c(list(model = models[[name]], orthogonal = bifactor, std_lv = bifactor),
                     described)
  }
  nested <- list(c("one_factor", "two_factor"), c("two_factor", "three_factor"),
                 c("one_factor", "three_factor"))
  lrt <- lapply(nested, function(pair) {
    t <- lavTestLRT(fits[[pair[1]]], fits[[pair[2]]])
    list(model_a = pair[1], model_b = pair[2], delta_chisq = t[["Chisq diff"]][2],
         delta_df = t[["Df diff"]][2], p = t[["Pr(>Chisq)"]][2])
  })
  list(models = out, model_comparison = lrt)
}

alpha_of <- function(data, items, keys = NULL) {
  a <- psych::alpha(data[, items], keys = keys, warnings = FALSE, check.keys = FALSE)
  list(raw_alpha = a$total$raw_alpha,
       alpha_if_deleted = setNames(as.list(a$alpha.drop$raw_alpha), items),
       corrected_item_total = setNames(as.list(a$item.stats$r.drop), items))
}

reliability_of <- function(fit) {
  list(composite_reliability = as.list(compRelSEM(fit)), ave = as.list(AVE(fit)))
}

# ---------------------------------------------------------------- Holzinger-Swineford
hs_model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
hs_ml <- cfa(hs_model, data = hs)
hs_items <- paste0("x", 1:9)
hs_out <- list(
  versions = versions,
  n = nrow(hs),
  model = hs_model,
  ml = describe_fit(hs_ml),
  mlr = describe_fit(cfa(hs_model, data = hs, estimator = "MLR"), robust = TRUE),
  std_lv = describe_fit(cfa(hs_model, data = hs, std.lv = TRUE)),
  orthogonal = describe_fit(cfa(hs_model, data = hs, orthogonal = TRUE)),
  htmt = unclass(htmt(hs_model, data = hs)),
  htmt_classic = unclass(htmt(hs_model, data = hs, htmt2 = FALSE)),
  reliability = reliability_of(hs_ml),
  alpha = list(visual = alpha_of(hs, c("x1", "x2", "x3")),
               textual = alpha_of(hs, c("x4", "x5", "x6")),
               speed = alpha_of(hs, c("x7", "x8", "x9"))),
  kmo = KMO(hs[, hs_items])$MSA,
  kmo_items = as.list(setNames(KMO(hs[, hs_items])$MSAi, hs_items)),
  bartlett = {
    b <- cortest.bartlett(cor(hs[, hs_items]), n = nrow(hs))
    list(chisq = b$chisq, df = b$df, p = b$p.value)
  },
  efa_ml_oblimin = {
    f <- psych::fa(hs[, hs_items], nfactors = 3, fm = "ml", rotate = "oblimin")
    list(loadings = unclass(f$loadings), phi = unclass(f$Phi))
  }
)
write_json(hs_out, file.path(here, "hs.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)

# ---------------------------------------------------------------- bfi (listwise)
bfi_groups <- list(agree = paste0("A", 1:5), consc = paste0("C", 1:5),
                   extra = paste0("E", 1:5), neuro = paste0("N", 1:5), open = paste0("O", 1:5))
bfi_model <- paste(mapply(function(f, i) paste(f, "=~", paste(i, collapse = " + ")),
                          names(bfi_groups), bfi_groups), collapse = "\n")
bfi_ml <- cfa(bfi_model, data = bfi)
bfi_out <- list(
  versions = versions,
  model = bfi_model,
  n_used = lavInspect(bfi_ml, "nobs"),
  ml = describe_fit(bfi_ml),
  mlr = describe_fit(cfa(bfi_model, data = bfi, estimator = "MLR"), robust = TRUE),
  alpha_neuroticism = alpha_of(bfi, paste0("N", 1:5)),
  htmt = unclass(htmt(bfi_model, data = bfi)),
  reliability = reliability_of(bfi_ml)
)
write_json(bfi_out, file.path(here, "bfi.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)

# ---------------------------------------------------------------- simulated alliance export
groups <- list(bond = sprintf("pb%02d", 1:8), goals = sprintf("pg%02d", 1:8),
               tasks = sprintf("pt%02d", 1:8))
alliance_models <- models_for(groups)
keys <- c("pb06", "pg05", "pt06")
keyed <- alliance
for (k in keys) keyed[[k]] <- 6 - keyed[[k]]
alliance_out <- list(
  versions = versions,
  models_ml = run_models(alliance_models, keyed, "ML"),
  models_mlr = run_models(alliance_models, keyed, "MLR"),
  alpha = lapply(groups, function(items) alpha_of(keyed, items)),
  htmt = unclass(htmt(alliance_models$three_factor, data = keyed)),
  kmo = KMO(keyed[complete.cases(keyed[, unlist(groups)]), unlist(groups)])$MSA
)
write_json(alliance_out, file.path(here, "alliance.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
cat("wrote", file.path(here, c("hs.json", "bfi.json", "alliance.json")), sep = "\n")
