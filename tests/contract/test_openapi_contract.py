"""Issue 15 item 8: the contract. schemathesis generates requests from /openapi.json for every operation and
sends each as the four roles, checking every answer (all of its checks): no 5xx, a status the document
declares, a body and headers that match the declared schema. Fixed seed and budget: CI runs the same
requests every time."""
from __future__ import annotations

import hypothesis
import pytest
import schemathesis

from server import create_app

ROLES = ("admin", "staff-a", "gp-a1", "spec")
EXAMPLES = 8  # per operation, each sent as the four roles

# The document only: built from an app of its own at collection; the requests go to the test's app (its
# database transaction, its world), passed to each call.
schema = schemathesis.openapi.from_wsgi(
    "/openapi.json", create_app({"DEVELOPMENT": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}))
# A request valid by the schema may still break a rule no schema can say (a center id that does not exist, a
# visit date after today, a code list of another condition): the service answers 422 naming the field, and
# declares it. Every other check keeps schemathesis' defaults.
schema.config.checks.positive_data_acceptance.expected_statuses = [
    *schema.config.checks.positive_data_acceptance.expected_statuses, "422"]


@pytest.mark.contract
@schema.parametrize()
@hypothesis.settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_every_operation_keeps_the_contract(case, clean_app, world, token):
    for role in ROLES:  # the same request as each role: scope answers (403, 404) must be declared too
        # identity: the sync pages are gzip when asked (Content-Encoding), which werkzeug's test client
        # hands over undecoded.
        case.call_and_validate(app=clean_app, headers={"Authorization": f"Bearer {token(role)}",
                                                       "Accept-Language": "zh", "Accept-Encoding": "identity"})
