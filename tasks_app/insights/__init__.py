"""The fleet's figures for the dashboard and GET /api/stats: counts, success rates, failing, slowest and flakiest
tasks (figures.py), and the timeline of the last and next 24 hours (timeline.py). Indexed queries only."""
