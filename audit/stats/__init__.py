"""Statistics over per-image labels: pure functions of tables.

Counts are always reported with every estimate; results always come back as
DataFrames with fixed columns (``audit.api.statistic.COLUMNS`` for
proportions), never a scalar for one input and a Series for another.
"""
