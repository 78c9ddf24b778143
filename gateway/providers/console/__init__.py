"""The console: texts printed, not sent (the default; for trying the gateway out)."""
