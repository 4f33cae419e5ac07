"""`aftersales demo`: a varied set of live cases, so a newcomer sees the UI come alive.

It opens one case per tier, a VIP case whose 15-minute first-response clock will warn and breach
within minutes, a logistics case, a case waiting on the customer, one waiting for approval, and
one already resolved and waiting for the customer's confirmation. Then one case on each leg of a
physical resolution: a return waiting to be shipped, one in transit (findable by its
`ReturnTracking`), one in inspection, an exchange, a repair, and a conversation whose next reply
is owed to a VIP customer within 15 minutes.
"""

from __future__ import annotations

import uuid
from typing import Any

from starter.client import CaseClient

_CUSTOMER = {"id": "demo-customer", "name": "Demo Customer", "phone": "+8613800138000",
             "email": "demo@example.com"}


def _case(tag: str, category: str, amount: str, description: str, **extra: Any) -> dict[str, Any]:
    customer = {**_CUSTOMER, **extra.pop("customer", {})}
    return {
        "case_id": f"demo-{tag}-{uuid.uuid4().hex[:6]}",
        "order_id": f"D{uuid.uuid4().int % 100000:05d}",
        "customer": customer,
        "channel": extra.pop("channel", "app"),
        "category": category,
        "description": description,
        "order_amount": amount,
        **extra,
    }


_ACK_6 = ("acknowledge", {"actor": "agent-ops-6"})

# (intake, actions to send after opening)
SCENARIOS: list[tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]] = [
    (_case("urgent", "safety", "899.00", "Charger overheated and scorched the desk.",
           flags={"safety_risk": True}), []),
    (_case("vip-breach-soon", "product_quality", "2599.00", "Screen flickers on a new laptop.",
           customer={"tier": "vip"}), []),
    (_case("complex", "product_quality", "6800.00", "Fridge stopped cooling; needs technician.",
           flags={"cross_department": True}), [("acknowledge", {"actor": "agent-ops-1"})]),
    (_case("logistics", "logistics", "129.00", "Parcel marked delivered but never arrived."),
     [("acknowledge", {"actor": "agent-ops-2"})]),
    (_case("waiting-customer", "description_mismatch", "259.00", "Colour differs from listing."),
     [("acknowledge", {"actor": "agent-ops-3"}),
      ("request_info", {"actor": "agent-ops-3", "question": "Could you send a photo?"})]),
    (_case("approval", "billing", "1500.00", "Charged twice for one order.", channel="web"),
     [("acknowledge", {"actor": "agent-ops-4"}),
      ("propose_resolution", {"actor": "agent-ops-4", "type": "refund", "amount": "1500.00"})]),
    (_case("resolved", "service_attitude", "89.00", "Rude phone support.", channel="phone"),
     [("acknowledge", {"actor": "agent-ops-5"}),
      ("propose_resolution", {"actor": "agent-ops-5", "type": "compensation", "amount": "20.00",
                              "note": "coupon"})]),
    (_case("return-to-ship", "description_mismatch", "329.00", "Shoes a size too small."),
     [_ACK_6, ("propose_resolution", {"actor": "agent-ops-6", "type": "return_refund", "amount": "329.00"})]),
    (_case("return-in-transit", "product_quality", "459.00", "Kettle leaks at the seam."),
     [_ACK_6, ("propose_resolution", {"actor": "agent-ops-6", "type": "return_refund", "amount": "459.00"}),
      ("return_shipped", {"carrier": "SF Express", "tracking_number": "SF7001002003"})]),
    (_case("inspection", "product_quality", "299.00", "Headphones crackle on the left side."),
     [_ACK_6, ("propose_resolution", {"actor": "agent-ops-6", "type": "return_refund", "amount": "299.00"}),
      ("return_shipped", {"carrier": "JD Logistics", "tracking_number": "JD0098765432"}),
      ("return_received", {"actor": "warehouse-sh", "note": "box intact"})]),
    (_case("exchange", "product_quality", "1299.00", "Phone camera shows a dead pixel."),
     [_ACK_6, ("propose_resolution", {"actor": "agent-ops-6", "type": "exchange", "amount": "0"}),
      ("return_shipped", {"carrier": "SF Express", "tracking_number": "SF7001002099"})]),
    (_case("repair", "product_quality", "3999.00", "Washing machine drum does not spin."),
     [_ACK_6, ("propose_resolution", {"actor": "agent-ops-6", "type": "repair"})]),
    (_case("conversation", "logistics", "89.00", "Parcel stuck at the depot for five days.",
           customer={"tier": "vip"}),
     [("agent_reply", {"actor": "agent-ops-7", "text": "We are chasing the depot now."}),
      ("customer_message", {"text": "Thanks - can you give me a date?"})]),
]


async def run_demo(client: CaseClient) -> list[dict[str, Any]]:
    opened: list[dict[str, Any]] = []
    for intake, actions in SCENARIOS:
        result = await client.open(intake)
        status = result.status.value
        for action, data in actions:
            status = (await client.act(result.case_id, action, data)).status.value
        opened.append(
            {"case_id": result.case_id, "workflow_id": result.workflow_id,
             "tier": result.tier.value, "status": status}
        )
    return opened
