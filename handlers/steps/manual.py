"""Manual steps: a person does it and marks it Done or Skip (the shared buttons); nothing else."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from handlers.steps.base import StepKindView, StepView, step_blocks


def build(view: StepView) -> list[Block]:
    return step_blocks(view)


VIEW = StepKindView(build=build)
