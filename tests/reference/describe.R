# Shared by the reference scripts that describe a fitted lavaan model the same way: the
# versions, and per fit its measures (the keys asked for), its n and its parameter table.

versions <- list(R = R.version.string, lavaan = as.character(packageVersion("lavaan")))

describe <- function(fit, keys) {
  pe <- parameterEstimates(fit, standardized = TRUE)
  list(
    fit = lapply(as.list(fitMeasures(fit, keys)), unname),
    nobs = unlist(lavInspect(fit, "nobs")),
    estimates = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs,
                           group = if (is.null(pe$group)) 1L else pe$group,
                           est = pe$est, se = pe$se, std_all = pe$std.all,
                           stringsAsFactors = FALSE)
  )
}
