from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from offerengine.fields import ProblemFieldError

RuleUse = Literal["pricing", "decisioning"]


class FactRead(BaseModel):
    name: str
    type: str
    description: str
    example: Any = None


class NamespaceRead(BaseModel):
    prefix: str
    type: str = "any"
    description: str


class OperatorRead(BaseModel):
    symbol: str
    aliases: list[str]
    description: str


class FunctionRead(BaseModel):
    name: str
    signature: str
    returns: str
    description: str


class ConditionFormRead(BaseModel):
    form: str
    example: JsonValue
    meaning: str


class VocabularyRead(BaseModel):
    use: str
    description: str
    facts: list[FactRead]
    open_namespaces: list[NamespaceRead]
    operators: list[OperatorRead]
    functions: list[FunctionRead]
    condition_forms: list[ConditionFormRead] = Field(description="The JSON condition forms.")


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    use: RuleUse = "pricing"
    expression: str | None = Field(
        default=None, max_length=10_000, examples=["1.0 + (utilization^2 * 2.0)"]
    )
    condition: JsonValue = Field(
        default=None, description="A JSON condition, instead of an expression."
    )
    expect: Literal["number", "boolean", "any"] = Field(
        default="any",
        description="What the rule must give: a formula a number, a condition true or false.",
    )

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.expression is None) == (self.condition is None):
            raise ValueError("give an expression or a condition, not both and not neither")
        return self


class ValidateResult(BaseModel):
    ok: bool
    type: str | None = Field(default=None, description="What the rule gives when it is valid.")
    facts: list[str] = Field(default_factory=list, description="The facts it reads.")
    errors: list[ProblemFieldError] = Field(default_factory=list)
