"""Bulk imports of outside data into the shop's tables (today: the UCI Online Retail log)."""
