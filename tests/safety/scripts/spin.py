"""Uses CPU without end (a loop that never waits)."""
while True:
    pass
