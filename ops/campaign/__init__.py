"""Load-test campaigns: a spec, workers, merged results, an SLO verdict, a report."""
