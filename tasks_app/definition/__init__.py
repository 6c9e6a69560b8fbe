"""What a task is: its fields, their rules, and where its script and log are."""
