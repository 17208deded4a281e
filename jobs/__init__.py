"""Scheduled work. Runs in its own process (`python -m jobs`), never inside web workers."""
