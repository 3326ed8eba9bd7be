"""Reports: PNG plots of runs and evaluations (matplotlib optional: skdcore[plots])."""
