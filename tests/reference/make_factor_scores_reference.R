# Reference values for factor scores (lavaan's lavPredict) and their reliability.
#
#   make reference      # runs this after the other reference scripts
#
# Needs Debian's r-base-core r-cran-lavaan r-cran-psych r-cran-jsonlite. CI does not run this:
# the JSON it writes (tests/reference/factor_scores.json) is committed.
#
# - HolzingerSwineford1939, three factors by ML: regression and Bartlett scores with their
#   standard errors (se = "standard"), in one group and by school;
# - the same with answers missing at random (data/hs_mar.csv) by FIML: each row scored from
#   what it answered;
# - psych's bfi, agreeableness and conscientiousness as ordinal items by WLSMV (pairwise):
#   the posterior mean (EAP) and SD of the two factors given each row's answers, integrated
#   on a fine rectangular grid (121 x 121 points over six prior SDs): lavaan has no EAP.

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
here <- if (length(args)) args[1] else "tests/reference"
data_dir <- file.path(here, "data")

HS <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
hs <- read.csv(file.path(data_dir, "hs.csv"))
hs_mar <- read.csv(file.path(data_dir, "hs_mar.csv"))

scores <- function(fit, method) {
  fs <- lavPredict(fit, method = method, se = "standard")
  # one matrix of scores and one of SEs for every row, groups stacked in the data's order
  if (is.list(fs) && !is.matrix(fs)) {
    idx <- lavInspect(fit, "case.idx")
    n <- sum(lavInspect(fit, "nobs"))
    se <- attr(fs, "se")
    out <- matrix(NA, n, ncol(fs[[1]]))
    err <- matrix(NA, n, ncol(fs[[1]]))
    for (g in seq_along(fs)) {
      out[idx[[g]], ] <- fs[[g]]
      err[idx[[g]], ] <- matrix(se[[g]], nrow(fs[[g]]), ncol(fs[[g]]), byrow = nrow(se[[g]]) == 1)
    }
    colnames(out) <- colnames(fs[[1]])
  } else {
    se <- attr(fs, "se")[[1]]
    out <- unclass(fs)
    attributes(out) <- attributes(out)[c("dim", "dimnames")]
    err <- if (nrow(se) == 1) matrix(se, nrow(out), ncol(out), byrow = TRUE) else se
  }
  list(scores = out, se = err)
}

reliability <- function(fit, s, method) {
  est <- lavInspect(fit, "est")
  if (!is.null(est$psi)) est <- list(est)
  idx <- if (length(est) > 1) lavInspect(fit, "case.idx") else list(seq_len(nrow(s$se)))
  v <- matrix(NA, nrow(s$se), ncol(s$se))  # each row's factor variances, from its group
  for (g in seq_along(est)) v[idx[[g]], ] <- rep(diag(est[[g]]$psi), each = length(idx[[g]]))
  e <- s$se^2
  share <- if (method == "bartlett") v / (v + e) else 1 - e / v
  as.list(setNames(colMeans(share, na.rm = TRUE), colnames(s$scores)))
}

describe <- function(fit, method) {
  s <- scores(fit, method)
  list(scores = s$scores, se = s$se, factors = colnames(s$scores),
       reliability = reliability(fit, s, method))
}

ml <- cfa(HS, data = hs)
fiml <- cfa(HS, data = hs_mar, missing = "ml")
groups <- cfa(HS, data = hs, group = "school")

# EAP on an ordinal model: lavaan's estimates, integrated on a rectangular grid
bfi <- read.csv(file.path(data_dir, "bfi.csv"))
BFI <- "agree =~ A1 + A2 + A3 + A4 + A5\nconsc =~ C1 + C2 + C3 + C4 + C5"
items <- c(paste0("A", 1:5), paste0("C", 1:5))
wlsmv <- cfa(BFI, data = bfi, ordered = items, estimator = "WLSMV", missing = "pairwise")
est <- lavInspect(wlsmv, "est")
lambda <- est$lambda[items, ]
psi <- est$psi
resid <- diag(est$theta)[items]
tau <- est$tau
grid1 <- seq(-6, 6, length.out = 121)
z <- as.matrix(expand.grid(grid1, grid1))
eta <- z %*% chol(psi)  # rows: L z, with psi = L L'
prior <- exp(-0.5 * rowSums(z^2))
linear <- eta %*% t(lambda)
log_item <- lapply(seq_along(items), function(j) {
  name <- items[j]
  cuts <- c(-Inf, tau[startsWith(rownames(tau), paste0(name, "|")), 1], Inf)
  levels <- sort(unique(bfi[[name]][!is.na(bfi[[name]])]))
  sapply(seq_along(levels), function(k) {
    log(pmax(pnorm((cuts[k + 1] - linear[, j]) / sqrt(resid[j])) -
             pnorm((cuts[k] - linear[, j]) / sqrt(resid[j])), 1e-300))
  })
})
answers <- as.matrix(bfi[, items])
answered <- rowSums(!is.na(answers)) > 0
eap <- matrix(NA, nrow(bfi), 2)
eap_se <- matrix(NA, nrow(bfi), 2)
for (i in which(answered)) {
  ll <- log(prior)
  for (j in seq_along(items)) {
    value <- answers[i, j]
    if (!is.na(value)) {
      levels <- sort(unique(bfi[[items[j]]][!is.na(bfi[[items[j]]])]))
      ll <- ll + log_item[[j]][, match(value, levels)]
    }
  }
  w <- exp(ll - max(ll))
  w <- w / sum(w)
  m <- colSums(w * eta)
  eap[i, ] <- m
  eap_se[i, ] <- sqrt(colSums(w * (eta - rep(m, each = nrow(eta)))^2))
}
colnames(eap) <- colnames(psi)
ordinal_reliability <- as.list(setNames(
  colMeans(t(1 - t(eap_se^2) / diag(psi)), na.rm = TRUE), colnames(psi)))

out <- list(
  versions = list(R = R.version.string, lavaan = as.character(packageVersion("lavaan"))),
  hs = list(model = HS, regression = describe(ml, "regression"),
            bartlett = describe(ml, "bartlett")),
  hs_school = list(model = HS, group = "school", regression = describe(groups, "regression"),
                   bartlett = describe(groups, "bartlett")),
  hs_mar = list(model = HS, regression = describe(fiml, "regression"),
                bartlett = describe(fiml, "bartlett")),
  bfi_eap = list(model = BFI, items = items, factors = colnames(psi), scores = eap,
                 se = eap_se, reliability = ordinal_reliability,
                 rows_scored = sum(answered))
)
write_json(out, file.path(here, "factor_scores.json"), digits = NA, auto_unbox = TRUE,
           pretty = FALSE, na = "null")
cat("wrote", file.path(here, "factor_scores.json"), "\n")
