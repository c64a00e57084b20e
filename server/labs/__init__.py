"""Lab results from hospital feeds, received, matched to residents, stored and read by GP teams.

- messages/: the message half, no Flask and no database: HL7 v2 ORU^R01 and FHIR R4 parsing, ACKs, MLLP
  framing, the parsed dataclasses, reference-range reading.
- feeds: hospital feeds and their keys. intake: receiving a message and storing it (the entry points of the
  HTTP views and the MLLP listener). orders: which stored report a message's order adds to. matching: which
  resident a message is about.
- models: the stored rows; services, alerts, schemas, routes: the unmatched queue, refused messages, reports
  and critical-value calls as teams and center staff read them.
"""
