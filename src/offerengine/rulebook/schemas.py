"""Seed 001's business rule, as the generic rules view takes and shows every kind of rule."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from offerengine.fields import Timestamp

RuleType = Literal["PRICING", "BUNDLING", "INVENTORY", "OFFER", "FEE", "COMMISSION"]
RULE_TYPES_DOC = (
    "PRICING (pricing rules), BUNDLING (bundle templates), INVENTORY (inventory rules), OFFER "
    "(the offer rules), FEE (fee and tax rules), COMMISSION (commission rates)"
)


class BusinessRuleFields(BaseModel):
    """Seed 001's top-level fields; each kind takes those it has (a bundle's `rule_name` is its
    `bundle_name`, a fee rule's `valid_from` its `effective_from`) and refuses the others."""

    model_config = ConfigDict(extra="forbid")

    rule_name: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, examples=["Continuous Pricing - Economy"]
    )
    rule_config: dict[str, JsonValue] = Field(
        description="The kind's own fields (a pricing rule's conditions and adjustments, an "
        "offer rule's mix …), as the kind's own routes take them.",
        examples=[
            {
                "conditions": {"product_type": "FLIGHT", "cabin_class": "ECONOMY"},
                "adjustments": {"type": "MULTIPLIER", "value": "1.2"},
            }
        ],
    )
    priority: int | None = None
    is_active: bool | None = None
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None


class BusinessRuleCreate(BusinessRuleFields):
    rule_type: RuleType = Field(description=f"The kind of rule: {RULE_TYPES_DOC}.")


class BusinessRuleUpdate(BusinessRuleFields):
    """A full replacement of the rule, as create takes it; a rule keeps its kind."""

    rule_type: RuleType | None = Field(
        default=None, description="The rule's kind, if given: it cannot change."
    )
    version: int | None = Field(default=None, ge=1, description="Optimistic concurrency.")


class BusinessRuleStatus(BaseModel):
    """Seed 001's activate/deactivate."""

    model_config = ConfigDict(extra="forbid")

    is_active: bool
    version: int | None = Field(default=None, ge=1)


class BusinessRuleRead(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    rule_type: RuleType
    rule_name: str | None = Field(description="Null for a kind whose rules have no name.")
    rule_config: dict[str, Any] = Field(description="The kind's own fields.")
    priority: int | None = Field(description="Null for a kind without priorities.")
    is_active: bool | None = Field(description="Null for a kind that is always in force.")
    valid_from: datetime | None
    valid_until: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    href: str = Field(description="The rule at its own kind's route.")
