"""Workflow Builder's custom steps: "Appreciate someone" and "Ask for a commitment"."""

from __future__ import annotations

# The callback ids of the steps in manifest.json's `functions`: the contract with the
# workflows people build, never renamed.
APPRECIATE_STEP = "appreciate"
ASK_STEP = "ask_for_commitment"
STEPS = (APPRECIATE_STEP, ASK_STEP)
