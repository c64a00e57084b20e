"""The message half of the labs wing: bytes from a hospital in, plain dataclasses out, and the answer back.

HL7 v2 ORU^R01 parsing and ACKs (hl7v2), FHIR R4 bundles (fhir), MLLP framing and listener (mllp), the
parsed dataclasses both formats produce (parsed), and reading reference-range texts (ranges). No Flask, no
database and no other server module (tests/test_boundaries.py checks it): storage is the wing's business.
"""
