"""Configuring agents: create (from a config or a template), update, activate, pause, and
preview an agent on a stored meeting.

All of it is for workspace admins (members get ``FORBIDDEN``); the creator of a new agent
is the token's user. Bad input is ``BAD_USER_INPUT`` naming its path in the request
(``input.name``, ``input.config.fields.amount.auto_apply_threshold``: a config keeps its own
keys) and stores nothing; an agent of another workspace is ``NOT_FOUND``; a transition the
agent's status does not allow (pausing a draft) is ``CONFLICT``.

``previewAgentRun`` runs the agent on the workspace's connected CRM and stores nothing of
the run (``runtime.agent_configs.preview``: only the CRM reads are in the audit log). It
uses the extractor of ``Services.extras["extractor"]`` when the serving process sets one
(the one its runs use), else the built-in rules.
"""

from __future__ import annotations

from typing import Any

import strawberry

from runtime.agent_configs.models import StoredAgentConfig
from runtime.agent_configs.preview import preview_stored_agent
from runtime.agent_configs.service import (
    activate,
    create_agent,
    create_from_template,
    pause,
    update_agent,
)
from runtime.agents.results import AgentPreviewResult as PreviewResult
from runtime.api.context import ApiContext
from runtime.api.errors import ApiError
from runtime.api.ids import parse_id
from runtime.api.inputs import input_path, json_object, service_errors
from runtime.api.types.agents import AgentConfig
from runtime.api.types.common import JSON, CRMRecord, CRMType
from runtime.tokens.models import Principal

__all__ = [
    "AgentPreviewResult",
    "CreateAgentConfigInput",
    "FieldUpdate",
    "Mutation",
    "UpdateAgentConfigInput",
]

Info = strawberry.Info[ApiContext, None]


@strawberry.input(
    description=(
        "A new agent, created as a DRAFT: from a `config` of its own (then `name` is"
        " required) or from a template (`templateId` or `templateKey`), not both."
    )
)
class CreateAgentConfigInput:
    workspace_id: strawberry.ID | None = strawberry.field(
        default=None, description="The token's workspace (the default); another is FORBIDDEN."
    )
    name: str | None = strawberry.field(
        default=None, description="Required with `config`; default: the template's name."
    )
    crm_type: CRMType = strawberry.field(
        default=CRMType.HUBSPOT, description="Only HUBSPOT is supported so far."
    )
    call_type: str | None = strawberry.field(
        default=None,
        description="The primary call type, one of the config's `call_types`; default: its first.",
    )
    config: JSON | None = strawberry.field(
        default=None,
        description="The agent's configuration (see `agentTemplates` for examples).",
    )
    template_id: strawberry.ID | None = strawberry.field(
        default=None, description="Start from this template row of the workspace."
    )
    template_key: str | None = strawberry.field(
        default=None, description="Start from the template with this key (`discovery`, ...)."
    )
    description: str | None = None


@strawberry.input(
    description="What to change; fields left out keep their value (a blank description removes it)."
)
class UpdateAgentConfigInput:
    name: str | None = None
    config: JSON | None = strawberry.field(
        default=None, description="A whole new configuration; it applies to the next runs."
    )
    description: str | None = None


@strawberry.type(description="A field the agent would change: its value now and the new one.")
class FieldUpdate:
    field_name: str
    current_value: str | None
    new_value: str
    confidence: float
    source: str | None = strawberry.field(
        description="Where the value was heard: a transcript line (with its speaker) or notes."
    )


@strawberry.type(description="What a run of the agent would do with the meeting; nothing done.")
class AgentPreviewResult:
    matched_record: CRMRecord | None
    match_confidence: float | None
    fields_to_update: list[FieldUpdate]
    warnings: list[str]

    @classmethod
    def of(cls, preview: PreviewResult) -> AgentPreviewResult:
        record = preview.matched_record
        return cls(
            matched_record=None if record is None else CRMRecord.of(record),
            match_confidence=preview.match_confidence,
            fields_to_update=[
                FieldUpdate(
                    field_name=u.field_name,
                    current_value=u.current_value,
                    new_value=u.new_value,
                    confidence=u.confidence,
                    source=u.source,
                )
                for u in preview.fields_to_update
            ],
            warnings=list(preview.warnings),
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="A new draft agent (admins).")
    async def create_agent_config(self, info: Info, input: CreateAgentConfigInput) -> AgentConfig:
        principal = info.context.admin()
        if input.workspace_id is not None:
            info.context.workspace(input.workspace_id, field="input.workspaceId")
        if input.crm_type is not CRMType.HUBSPOT:
            raise ApiError.bad_input(
                "input.crmType", f"{input.crm_type.name} is not supported yet: only HUBSPOT"
            )
        if input.template_id is not None or input.template_key is not None:
            stored = await _create_from_template(info, principal, input)
        else:
            stored = await _create_from_config(info, principal, input)
        return AgentConfig.of(stored)

    @strawberry.mutation(description="Rename an agent, replace its config or description.")
    async def update_agent_config(
        self, info: Info, id: strawberry.ID, input: UpdateAgentConfigInput
    ) -> AgentConfig:
        principal = info.context.admin()
        agent_id = parse_id(id, "id")
        config = None if input.config is None else json_object(input.config, "input.config")
        async with info.context.pool.acquire() as conn:
            with service_errors(_agent_paths):
                stored = await update_agent(
                    conn,
                    agent_id,
                    name=input.name,
                    config=config,
                    description=input.description,
                    workspace_id=principal.workspace_id,
                )
        return AgentConfig.of(stored)

    @strawberry.mutation(
        description="Let the agent run on new meetings (from DRAFT, PAUSED or ERROR; an"
        " ACTIVE agent stays as it is)."
    )
    async def activate_agent(self, info: Info, id: strawberry.ID) -> AgentConfig:
        principal = info.context.admin()
        async with info.context.pool.acquire() as conn:
            with service_errors(_agent_paths):
                change = await activate(
                    conn, parse_id(id, "id"), workspace_id=principal.workspace_id
                )
        return AgentConfig.of(change.agent)

    @strawberry.mutation(
        description="Stop the agent running on new meetings (from ACTIVE; a PAUSED agent stays"
        " as it is; a DRAFT or ERROR one is a CONFLICT)."
    )
    async def pause_agent(self, info: Info, id: strawberry.ID) -> AgentConfig:
        principal = info.context.admin()
        async with info.context.pool.acquire() as conn:
            with service_errors(_agent_paths):
                change = await pause(conn, parse_id(id, "id"), workspace_id=principal.workspace_id)
        return AgentConfig.of(change.agent)

    @strawberry.mutation(
        description="Run the agent on a stored meeting against the workspace's CRM and show"
        " what it would change, storing nothing (admins; the CRM reads are audited)."
    )
    async def preview_agent_run(
        self, info: Info, agent_config_id: strawberry.ID, meeting_id: strawberry.ID
    ) -> AgentPreviewResult:
        principal = info.context.admin()
        agent_id = parse_id(agent_config_id, "agentConfigId")
        meeting = parse_id(meeting_id, "meetingId")
        services = info.context.services
        with service_errors(lambda field: input_path(field, root="")):
            preview = await preview_stored_agent(
                info.context.pool,
                principal.workspace_id,
                agent_id=agent_id,
                meeting_id=meeting,
                requested_by=principal.user_id,
                keyring=services.keyring(),
                hubspot=services.settings.hubspot,
                extractor=services.extractor(),
                clock=services.clock,
            )
        return AgentPreviewResult.of(preview)


async def _create_from_template(
    info: Info, principal: Principal, input: CreateAgentConfigInput
) -> StoredAgentConfig:
    if input.config is not None:
        raise ApiError.bad_input(
            "input.config",
            "give a config or a template, not both: a template brings its config (change the"
            " new agent with updateAgentConfig)",
        )
    if input.template_id is not None and input.template_key is not None:
        raise ApiError.bad_input("input.templateKey", "give templateId or templateKey, not both")
    template_id = None
    template_field = "input.templateKey"
    if input.template_id is not None:
        template_id = parse_id(input.template_id, "input.templateId")
        template_field = "input.templateId"

    def path_of(field: str) -> str:
        return input_path(field, renames={"template": template_field}, verbatim=("config",))

    async with info.context.pool.acquire() as conn:
        with service_errors(path_of):
            return await create_from_template(
                conn,
                principal.workspace_id,
                template_key=input.template_key,
                template_id=template_id,
                created_by=principal.user_id,
                name=input.name,
                call_type=input.call_type,
                description=input.description,
            )


async def _create_from_config(
    info: Info, principal: Principal, input: CreateAgentConfigInput
) -> StoredAgentConfig:
    if input.config is None:
        raise ApiError.bad_input(
            "input.config", "is required, unless a template (templateId or templateKey) is given"
        )
    config: dict[str, Any] = json_object(input.config, "input.config")
    if input.name is None:
        raise ApiError.bad_input("input.name", "is required when creating from a config")
    async with info.context.pool.acquire() as conn:
        with service_errors(_config_paths):
            return await create_agent(
                conn,
                principal.workspace_id,
                created_by=principal.user_id,
                name=input.name,
                config=config,
                call_type=input.call_type,
                description=input.description,
            )


def _config_paths(field: str) -> str:
    """An input's fields are camelCase; the keys of its config JSON keep their spelling."""
    return input_path(field, verbatim=("config",))


def _agent_paths(field: str) -> str:
    """Fields of the id-taking mutations: the agent (and its status) is the ``id`` argument."""
    if field in {"agent", "agent config", "status"}:
        return "id"
    return _config_paths(field)
