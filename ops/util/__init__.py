"""Helpers every layer may use: ports, processes, ids, atomic files. They import nothing
of the toolkit but `ops.errors`."""
