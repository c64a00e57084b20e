"""Lab results from hospital feeds: HL7 v2 ORU^R01, FHIR R4 bundles, MLLP framing (no Flask, no database)."""
