"""Referrals to hospital specialists: the closed loop (issue 13)."""
