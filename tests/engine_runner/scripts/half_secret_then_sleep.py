"""Writes the first half of its secret, flushes, and sleeps until it is ended: the output must not keep it."""
import os
import sys
import time

secret = os.environ["DB_PASSWORD"]
sys.stdout.write("before " + secret[:len(secret) // 2])
sys.stdout.flush()
time.sleep(60)
