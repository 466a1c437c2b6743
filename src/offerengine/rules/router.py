from __future__ import annotations

from typing import Annotated

from fastapi import Query

from offerengine.auth.deps import ConfigReader
from offerengine.fields import ProblemFieldError
from offerengine.http.routing import router
from offerengine.rules import core
from offerengine.rules.schemas import (
    ConditionFormRead,
    FactRead,
    FunctionRead,
    NamespaceRead,
    OperatorRead,
    RuleUse,
    ValidateRequest,
    ValidateResult,
    VocabularyRead,
)
from offerengine.rules.vocabulary import FUNCTIONS, OPERATORS, VOCABULARIES

api = router(prefix="/v1/admin/rules", tags=["rules"])

CONDITION_FORMS = [
    ConditionFormRead(
        form="equality", example={"cabin_class": "ECONOMY"}, meaning="the fact equals the value"
    ),
    ConditionFormRead(
        form="membership",
        example={"cabin_class": ["BUSINESS", "FIRST"]},
        meaning="the fact is one of the values",
    ),
    ConditionFormRead(
        form="range",
        example={"days_until_departure": {"max": 7}},
        meaning="min (≥), max (≤), gt, gte, lt, lte, eq, ne, in, not_in",
    ),
    ConditionFormRead(
        form="date_range",
        example={"date_range": {"start": "2024-06-01", "end": "2024-08-31"}},
        meaning='departure_date within the dates, inclusive ("fact" picks another date fact)',
    ),
    ConditionFormRead(
        form="any / all",
        example={"any": [{"channel": "web"}, {"channel": "mobile"}]},
        meaning="one of / all of the conditions",
    ),
    ConditionFormRead(
        form="not", example={"not": {"channel": "agent"}}, meaning="the condition does not hold"
    ),
    ConditionFormRead(
        form="expression",
        example={"expression": "utilization > 0.8 and passengers >= 2"},
        meaning="a condition in the rules language",
    ),
]


@api.get("/vocabulary", operation_id="getRuleVocabulary")
async def vocabulary(
    _: ConfigReader,
    use: Annotated[RuleUse, Query(description="Where the rule is used.")] = "pricing",
) -> VocabularyRead:
    """What rules of a use may refer to: facts and their types, operators, functions, JSON forms."""
    found = VOCABULARIES[use]
    return VocabularyRead(
        use=found.use,
        description=found.description,
        facts=[
            FactRead(name=f.name, type=str(f.type), description=f.description, example=f.example)
            for f in found.facts.values()
        ],
        open_namespaces=[
            NamespaceRead(prefix=p, description=d) for p, d in found.open_namespaces.items()
        ],
        operators=[
            OperatorRead(symbol=o.symbol, aliases=list(o.aliases), description=o.description)
            for o in OPERATORS
        ],
        functions=[
            FunctionRead(
                name=f.name, signature=f.signature, returns=f.returns, description=f.description
            )
            for f in FUNCTIONS.values()
        ],
        condition_forms=CONDITION_FORMS,
    )


@api.post("/validate", operation_id="validateRule")
async def validate(body: ValidateRequest, _: ConfigReader) -> ValidateResult:
    """Check a rule without saving it: `ok` with its type and facts, or its errors with positions."""
    found = VOCABULARIES[body.use]
    try:
        if body.expression is not None:
            compiled = core.compile_expression(
                body.expression, found, expect=core.expected(body.expect)
            )
        else:
            compiled = core.compile_condition(body.condition, found)
    except core.RuleError as refused:
        errors = [ProblemFieldError(**e.as_dict()) for e in refused.errors]
        return ValidateResult(ok=False, errors=errors)
    return ValidateResult(ok=True, type=str(compiled.type), facts=list(compiled.facts))
