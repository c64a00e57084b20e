"""Chronic-disease follow-ups: records, worklists, indicators."""
