"""OFREP's answer for one evaluated flag: only the reasons and error codes the protocol lists."""

from offerengine.flags import core
from offerengine.flags.evaluating import ofrep_answer


def _evaluation(reason: core.Reason, detail: str) -> core.Evaluation:
    return core.Evaluation("banner", "Hi", reason, "on", "r1", detail, 3)


def test_a_default_served_by_targeting_is_a_targeting_match() -> None:
    answer = ofrep_answer(_evaluation("DEFAULT", "region Izmir is not one of the rollout's"))
    assert answer["reason"] == "TARGETING_MATCH"
    assert answer["metadata"] == {
        "flagVersion": 3,
        "detail": "region Izmir is not one of the rollout's",
        "ruleId": "r1",
    }


def test_the_reasons_ofrep_shares_pass_unchanged() -> None:
    for reason in ("STATIC", "TARGETING_MATCH", "SPLIT", "DISABLED"):
        assert ofrep_answer(_evaluation(reason, "x"))["reason"] == reason


def test_an_evaluation_that_erred_is_ofreps_general_failure() -> None:
    answer = ofrep_answer(_evaluation("ERROR", "rule 'r1': experiment 'x' no longer exists"))
    assert answer == {
        "key": "banner",
        "errorCode": "GENERAL",
        "errorDetails": "rule 'r1': experiment 'x' no longer exists",
    }
