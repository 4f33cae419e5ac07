"""`/v1/merchants…`: the merchant registry over HTTP, for platform staff (STANDARDS S14.1).

A platform supervisor's key registers merchants, renames them and stores their own policy files;
any platform key reads the registry. A merchant's key reads its own merchant only: any other
merchant answers 404, as one never registered, and the list is the platform's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

from activities import ledger
from activities.merchants import DEFAULT_PLAN, Merchant, MerchantError, MerchantRegistry, Plan
from cases.actions.roles import Role
from cases.ids import DEFAULT_MERCHANT, MERCHANT_ID_PATTERN
from cases.policy.snapshot import PolicyError
from starter.api.auth import Caller, caller
from starter.api.problems import PROBLEM_RESPONSES, ApiProblem, FieldError
from starter.api.services import ServicesDep

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

MerchantPath = Annotated[str, Path(pattern=MERCHANT_ID_PATTERN, description="The merchant's id")]


class NewMerchant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merchant_id: Annotated[str, Field(pattern=MERCHANT_ID_PATTERN)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    plan: Plan = DEFAULT_PLAN


class MerchantChange(BaseModel):
    """A new name, a new plan, or both."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    plan: Plan | None = None

    @model_validator(mode="after")
    def _something(self) -> MerchantChange:
        if self.name is None and self.plan is None:
            raise ValueError("give the name, the plan or both")
        return self


class MerchantPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The merchant's own policy file (TOML, the platform file's keys); null: the platform's.
    policy: Annotated[str | None, Field(max_length=65536)] = None


class MerchantList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merchants: list[Merchant]


def _platform(who: Caller, what: str, staff_only: bool = False) -> None:
    if who.merchant_id is not None:
        raise ApiProblem(403, f"{what} needs a platform key; this key is merchant {who.merchant_id}'s")
    if staff_only and who.role != Role.SUPERVISOR:
        raise ApiProblem(403, f"{what} needs the role supervisor; this key is {who.role.value}")


def _refused(err: MerchantError | PolicyError, field: str) -> ApiProblem:
    status = 409 if "already registered" in str(err) else 422
    return ApiProblem(status, str(err), errors=[FieldError(field=field, message=str(err))])


@router.get("/merchants", response_model=MerchantList, summary="Every registered merchant (platform keys)")
async def list_merchants(who: Annotated[Caller, Depends(caller)], svc: ServicesDep) -> MerchantList:
    _platform(who, "listing merchants")
    return MerchantList(merchants=await MerchantRegistry(svc.pool).listing())


@router.post("/merchants", status_code=201, response_model=Merchant, summary="Register a merchant")
async def add_merchant(who: Annotated[Caller, Depends(caller)], svc: ServicesDep, body: NewMerchant) -> Merchant:
    _platform(who, "registering a merchant", staff_only=True)
    try:
        return await MerchantRegistry(svc.pool).add(body.merchant_id, body.name, body.plan)
    except MerchantError as err:
        raise _refused(err, str(err).split(":")[0]) from None


async def _reachable(who: Caller, svc: ServicesDep, merchant_id: str) -> Merchant:
    """The merchant, if this key may see it; 404 otherwise, as for one never registered."""
    found = await MerchantRegistry(svc.pool).get(merchant_id)
    if found is None or who.merchant_id not in (None, merchant_id):
        raise ApiProblem(404, f"merchant {merchant_id} not found")
    return found


@router.get("/merchants/{merchant_id}", response_model=Merchant, summary="One merchant")
async def get_merchant(
    who: Annotated[Caller, Depends(caller)], svc: ServicesDep, merchant_id: MerchantPath
) -> Merchant:
    return await _reachable(who, svc, merchant_id)


@router.patch("/merchants/{merchant_id}", response_model=Merchant, summary="Rename a merchant or change its plan")
async def change_merchant(
    who: Annotated[Caller, Depends(caller)], svc: ServicesDep, merchant_id: MerchantPath, body: MerchantChange
) -> Merchant:
    await _reachable(who, svc, merchant_id)
    _platform(who, "changing a merchant", staff_only=True)
    try:
        return await MerchantRegistry(svc.pool).change(merchant_id, name=body.name, plan=body.plan)
    except MerchantError as err:
        raise _refused(err, "name") from None


@router.put("/merchants/{merchant_id}/policy", response_model=MerchantPolicy, summary="A merchant's own policy")
async def set_policy(
    who: Annotated[Caller, Depends(caller)], svc: ServicesDep, merchant_id: MerchantPath, body: MerchantPolicy
) -> MerchantPolicy:
    """Store the merchant's own policy file, laid over the platform's when each of its cases
    opens; a looser value or a key a merchant may not set is refused (422), naming the key."""
    await _reachable(who, svc, merchant_id)
    _platform(who, "setting a merchant's policy", staff_only=True)
    if merchant_id == DEFAULT_MERCHANT:
        raise ApiProblem(422, "merchant_id: the default merchant runs on the platform's policy file itself")
    try:
        await MerchantRegistry(svc.pool).set_policy(merchant_id, body.policy, svc.policy)
    except (MerchantError, PolicyError) as err:
        raise _refused(err, "policy") from None
    return body


@router.get("/merchants/{merchant_id}/ledger", response_model=ledger.Statement, summary="A merchant's ledger")
async def merchant_ledger(
    who: Annotated[Caller, Depends(caller)], svc: ServicesDep, merchant_id: MerchantPath
) -> ledger.Statement:
    """What the platform paid buyers first on the merchant's behalf, what the merchant settled and
    still owes, and the orders whose settlement is held (STANDARDS S16.4). Platform keys, and the
    merchant's own."""
    await _reachable(who, svc, merchant_id)
    return await ledger.statement(svc.pool, merchant_id)
