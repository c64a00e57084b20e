"""The tablet registry (issue 18): enrolment with a device secret and an escrow key, contact recorded on
every sync, retire and lost orders from center staff, and the tablet's confirmation that it wiped itself."""
