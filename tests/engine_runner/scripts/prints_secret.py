"""Prints its secret every way a careless script might (plain, base64, URL-encoded, cut over two writes with a
pause between, on stderr, in its own log), proves it received the value, and fails with the secret in the
exception when RAISE is set."""
import base64
import hashlib
import os
import sys
import time
import urllib.parse

secret = os.environ["DB_PASSWORD"]
print("sha256:", hashlib.sha256(secret.encode()).hexdigest())
print("plain:", secret)
print("b64:", base64.b64encode(secret.encode()).decode())
print("urlsafe:", base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="))
print("url:", urllib.parse.quote(secret, safe=""))
half = len(secret) // 2
sys.stdout.write("split: " + secret[:half])
sys.stdout.flush()
time.sleep(0.3)
sys.stdout.write(secret[half:] + " end\n")
sys.stdout.flush()
print("stderr:", secret, file=sys.stderr, flush=True)
with open(os.environ["TASK_LOG"], "a", encoding="utf-8") as log:
    log.write(f"2025-01-01 00:00:00,000 - INFO - script - connecting with {secret}\n")
    log.write(f"2025-01-01 00:00:01,000 - INFO - script - token {base64.b64encode(secret.encode()).decode()}\n")
if os.environ.get("RAISE"):
    raise RuntimeError(f"cannot connect with password {secret}")
