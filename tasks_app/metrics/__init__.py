"""/metrics: the running totals of runs and incidents (tally.py), who leads the scheduling (schedulers.py), and the
Prometheus collector that reads them all from the database (collector.py), so every web node answers the same."""
