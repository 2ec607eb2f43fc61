"""A preview: the run an agent would make on a meeting, shown instead of applied.

``crm-agents preview`` (a CRM snapshot file) and the API's ``previewAgentRun`` (the
workspace's connected CRM) both call ``preview_meeting``, which runs the agent as the run
executor does (same matcher, same pipeline), so a preview shows what a run would propose.
It only reads the CRM; whoever calls it decides what the reads leave behind.
"""

from __future__ import annotations

from runtime.agents.calibration import Calibration
from runtime.agents.config import AgentConfig
from runtime.agents.extraction import Extractor
from runtime.agents.matching import RecordMatcher
from runtime.agents.pipeline import run_agent, to_preview
from runtime.agents.results import AgentPreviewResult
from runtime.crm.port import CrmPort
from runtime.meetings.models import MeetingIn

__all__ = ["preview_meeting"]


async def preview_meeting(
    meeting: MeetingIn,
    *,
    crm: CrmPort,
    config: AgentConfig,
    extractor: Extractor,
    calibration: Calibration | None = None,
) -> AgentPreviewResult:
    """What the agent with ``config`` would propose for ``meeting``: the matched deal, the
    fields it would change (current and new value, confidence, where it was heard) and
    warnings (a skipped meeting says why). Reads ``crm``, writes nothing.

    Raises:
        runtime.crm.errors.CrmError: the CRM could not be read.
        runtime.errors.ExtractionError: the extractor's endpoint failed.
    """
    result = await run_agent(
        meeting,
        crm=crm,
        config=config,
        extractor=extractor,
        matcher=RecordMatcher(crm, deal_properties=tuple(config.fields)),
        calibration=calibration,
    )
    return to_preview(result)
