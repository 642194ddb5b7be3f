"""Helpers every layer may use: ports, processes, run ids. They import nothing
of the toolkit but `ops.errors`."""
