"""Devices, the notification outbox (also each person's inbox) and push delivery."""
