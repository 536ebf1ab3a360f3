# Reference values for the EFA extraction: psych's fa() on its bfi (the 25 items, complete
# rows), five factors rotated by oblimin (GPArotation), for each extraction the toolkit offers:
# minres (psych's default), ml and pa (iterated principal axes); minres rotated by the other
# two rotations the toolkit offers (promax, varimax); KMO on those rows; and
# psych's describe() of every item over all rows (missing answers left out item by item).
#
#   make reference      # runs this after the other reference scripts
#
# Needs Debian's r-base-core r-cran-psych r-cran-gparotation r-cran-jsonlite. CI does not run
# this: the JSON it writes (tests/reference/efa.json) is committed.

suppressPackageStartupMessages({
  library(psych)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
here <- if (length(args)) args[1] else "tests/reference"
data_dir <- file.path(here, "data")

bfi <- read.csv(file.path(data_dir, "bfi_gender.csv"))
items <- bfi[, setdiff(names(bfi), c("id", "gender"))]
complete <- items[complete.cases(items), ]

extraction <- function(fm, rotate = "oblimin") {
  f <- fa(complete, nfactors = 5, fm = fm, rotate = rotate)
  loadings <- unclass(f$loadings)
  list(loadings = lapply(seq_len(ncol(loadings)), function(j) unname(loadings[, j])),
       communalities = unname(f$communality))
}

out <- list(
  versions = list(R = R.version.string, psych = as.character(packageVersion("psych"))),
  items = names(complete),
  n = nrow(complete),
  kmo = unname(KMO(complete)$MSA),
  fa = lapply(setNames(nm = c("minres", "ml", "pa")), extraction),
  rotations = lapply(setNames(nm = c("promax", "varimax")),
                     function(rotate) extraction("minres", rotate)),
  describe = {
    d <- describe(items)
    list(n = d$n, mean = d$mean, sd = d$sd, skew = d$skew, kurtosis = d$kurtosis)
  }
)
write_json(out, file.path(here, "efa.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
