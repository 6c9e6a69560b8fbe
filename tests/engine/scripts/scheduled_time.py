"""Prints the slot the run stands for (TASK_SCHEDULED_TIME), or <none>."""
import os

print(os.environ.get("TASK_SCHEDULED_TIME", "<none>"))
