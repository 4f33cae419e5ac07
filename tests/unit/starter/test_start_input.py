"""A 1.3 client opens cases that a 1.2 worker still reads: the intake it sends holds only the
fields 1.2 knows, unless the case says more (a merchant, or a customer who opted out of a channel)."""

from __future__ import annotations

from cases.models import CaseIntake
from starter.start_input import start_input
from tests.support.factories import intake
from workflows.run_input import CaseInput

# The fields of 1.2's intake and customer (cases/models.py at 1.2.0), which refuse any other.
INTAKE_1_2 = {"case_id", "order_id", "customer", "channel", "category", "description", "order_amount",
              "currency", "requested_resolution", "flags"}
CUSTOMER_1_2 = {"id", "name", "phone", "email", "tier"}


def test_a_default_merchant_case_sends_only_what_a_1_2_worker_reads() -> None:
    sent = start_input(intake())
    assert set(sent) - {"resume"} <= INTAKE_1_2
    assert set(sent["customer"]) <= CUSTOMER_1_2
    # The worker reads it back as the same intake: the merchant and the flags are derived again.
    assert CaseIntake.model_validate(CaseInput.model_validate(sent).model_dump(exclude={"resume"})) == intake(
        case_id=sent["case_id"]
    )


def test_what_a_1_2_worker_could_not_know_is_sent_when_the_case_says_it() -> None:
    merchant = start_input(intake(merchant_id="acme"))
    assert merchant["merchant_id"] == "acme"
    opted_out = intake(customer={"id": "c-1", "phone": "+8613800000000", "reachable_by_sms": False})
    sent = start_input(opted_out)
    assert sent["customer"]["reachable_by_sms"] is False and "reachable_by_email" not in sent["customer"]
    assert CaseInput.model_validate(sent).customer.reachable_by_sms is False
