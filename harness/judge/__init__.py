"""The LLM judge, how far to trust it, and the people who check it.

llm.py          the judge: delimited prompts, lenient verdict reading with one re-ask, both-order pairs
calibration.py  agreement with human verdicts (accuracy, Cohen's kappa, position bias) -> trusted or not
review.py       `harness review export|import`: human spot checks out, verdicts back into calibration

What the judge suite uses is re-exported here: `from harness.judge import Judge, PairItem, judge_records`.
"""

from harness.judge.llm import (
    Grade,
    Judge,
    PairItem,
    PairVerdict,
    RubricItem,
    judge_records,
    render_prompt,
)

__all__ = [
    "Grade",
    "Judge",
    "PairItem",
    "PairVerdict",
    "RubricItem",
    "judge_records",
    "render_prompt",
]
