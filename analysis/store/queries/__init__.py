"""Every query the clinic store answers for the statistics, as named aggregates in the SQL
both engines speak (analysis/store/backends):

- :mod:`.sessions`: which sessions a comparison selects, the sessions with their minimums, how
  much the store holds, and the pillars' measurement error;
- :mod:`.groups`: the benchmark's sums per group, month and patient;
- :mod:`.events`: the rupture rule as window functions, counted per group and month;
- :mod:`.moments`: the items' sums and cross-products for a CFA of the whole store.

The benchmark, the monitor and the store's CFA compute on the frames these return and write
no SQL of their own."""
