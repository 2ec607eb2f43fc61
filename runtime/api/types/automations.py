"""``UserAutomation``: the ``userAutomations`` query and the create / update / delete
mutations.

An automation belongs to the token's user who creates it (the input names no owner) and
acts on that user's data only (``runtime.automations``). Reading follows the general
``userId`` rule: a member lists their own, an admin any member's, to see what runs in the
workspace (a webhook's URL then shows only its origin: such URLs are often credentials).
Changing or deleting is for the owner alone: anyone else in the workspace, an admin
included, gets ``FORBIDDEN`` (an admin who could edit a member's webhook could route the
member's data anywhere); an automation of another workspace is ``NOT_FOUND``.

``triggerConfig`` / ``actionConfig`` are JSON objects validated by the models of their
type; bad input is ``BAD_USER_INPUT`` naming the path, the config's own keys as written
(``input.triggerConfig.min_confidence``, ``input.actionConfig.channels.1``), and stores
nothing. A webhook's ``secret`` is write-only: ``hasWebhookSecret`` says whether one is set.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from urllib.parse import urlsplit

import strawberry

from runtime.api.context import ApiContext
from runtime.api.ids import parse_id
from runtime.api.inputs import input_path, json_object, service_errors
from runtime.api.loaders import user_loader
from runtime.api.types.common import JSON, User
from runtime.automations import service
from runtime.automations.models import StoredAutomation, Webhook, config_of

__all__ = [
    "AutomationActionType",
    "AutomationTriggerType",
    "CreateUserAutomationInput",
    "Mutation",
    "Query",
    "UpdateUserAutomationInput",
    "UserAutomation",
]

Info = strawberry.Info[ApiContext, None]


@strawberry.enum(description="What starts an automation; each has its own `triggerConfig`.")
class AutomationTriggerType(Enum):
    INBOX_ITEM_CREATED = "inbox_item_created"
    ACTIVITY_ON_MY_DEALS = "activity_on_my_deals"
    ANOMALY_ON_MY_AGENTS = "anomaly_on_my_agents"
    MEETING_OF_CALL_TYPE = "meeting_of_call_type"
    SCHEDULE = "schedule"


@strawberry.enum(description="What an automation does; each has its own `actionConfig`.")
class AutomationActionType(Enum):
    AUTO_APPROVE = "auto_approve"
    NOTIFY = "notify"
    DIGEST = "digest"
    CREATE_CRM_TASK = "create_crm_task"
    WEBHOOK = "webhook"


@strawberry.type(description="A user's own rule: when this happens to my data, do that.")
class UserAutomation:
    stored: strawberry.Private[StoredAutomation]
    id: strawberry.ID
    name: str
    trigger_type: AutomationTriggerType
    trigger_config: JSON
    action_type: AutomationActionType
    action_config: JSON = strawberry.field(
        description="The action's settings; a webhook's secret is never shown."
    )
    has_webhook_secret: bool = strawberry.field(
        description="Whether a webhook signs its requests with a stored secret."
    )
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, stored: StoredAutomation, *, for_owner: bool = True) -> UserAutomation:
        """The automation as its owner sees it, or (``for_owner=False``) as an admin does:
        a webhook's URL is then cut to its origin, since such URLs often are credentials
        themselves (a Slack or Zapier hook's path is its key)."""
        action_config = config_of(stored.action)
        if not for_owner and isinstance(stored.action, Webhook):
            action_config["url"] = _origin(stored.action.url)
        return cls(
            stored=stored,
            id=strawberry.ID(str(stored.id)),
            name=stored.name,
            trigger_type=AutomationTriggerType(stored.trigger.type),
            trigger_config=JSON(config_of(stored.trigger)),
            action_type=AutomationActionType(stored.action.type),
            action_config=JSON(action_config),
            has_webhook_secret=stored.has_webhook_secret,
            is_active=stored.is_active,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
        )

    @strawberry.field(description="The owner: the automation acts on their data only.")
    async def user(self, info: Info) -> User:
        found = await user_loader(info.context).load(self.stored.user_id)
        if found is None:  # the foreign key makes this impossible short of corruption
            raise LookupError(f"automation {self.id} has no owner {self.stored.user_id}")
        return User.of(found)


@strawberry.input(description="A new automation of the token's user.")
class CreateUserAutomationInput:
    name: str
    trigger_type: AutomationTriggerType
    trigger_config: JSON = strawberry.field(description="A JSON object; `{}` for the defaults.")
    action_type: AutomationActionType
    action_config: JSON
    is_active: bool = True


@strawberry.input(
    description=(
        "What to change; fields left out (or null) keep their value. A new type needs its"
        " config. A webhook config without `secret` keeps the stored one; `secret: null`"
        " removes it."
    )
)
class UpdateUserAutomationInput:
    name: str | None = None
    trigger_type: AutomationTriggerType | None = None
    trigger_config: JSON | None = None
    action_type: AutomationActionType | None = None
    action_config: JSON | None = None
    is_active: bool | None = None


@strawberry.type
class Query:
    @strawberry.field(description="A user's automations in this workspace, oldest first.")
    async def user_automations(self, info: Info, user_id: strawberry.ID) -> list[UserAutomation]:
        owner = await info.context.user(user_id)
        principal = info.context.principal
        found = await service.list_automations(info.context.pool, principal.workspace_id, owner)
        mine = owner == principal.user_id
        return [UserAutomation.of(automation, for_owner=mine) for automation in found]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create an automation owned by the token's user.")
    async def create_user_automation(
        self, info: Info, input: CreateUserAutomationInput
    ) -> UserAutomation:
        principal = info.context.principal
        services = info.context.services
        new = service.AutomationInput(
            name=input.name,
            trigger_type=input.trigger_type.value,
            trigger_config=json_object(input.trigger_config, "input.triggerConfig"),
            action_type=input.action_type.value,
            action_config=json_object(input.action_config, "input.actionConfig"),
            is_active=input.is_active,
        )
        async with info.context.pool.acquire() as conn:
            with service_errors(input_path):
                created = await service.create_automation(
                    conn,
                    workspace_id=principal.workspace_id,
                    owner_id=principal.user_id,
                    new=new,
                    keyring=services.keyring,
                    allow_private_hosts=services.settings.automations.allow_private_webhook_hosts,
                    now=services.clock.now(),
                )
        return UserAutomation.of(created)

    @strawberry.mutation(description="Change one of the token's user's own automations.")
    async def update_user_automation(
        self, info: Info, id: strawberry.ID, input: UpdateUserAutomationInput
    ) -> UserAutomation:
        principal = info.context.principal
        services = info.context.services
        automation_id = parse_id(id, "id")
        change = service.AutomationChange(
            name=input.name,
            trigger_type=None if input.trigger_type is None else input.trigger_type.value,
            trigger_config=_json_or_none(input.trigger_config, "input.triggerConfig"),
            action_type=None if input.action_type is None else input.action_type.value,
            action_config=_json_or_none(input.action_config, "input.actionConfig"),
            is_active=input.is_active,
        )
        async with info.context.pool.acquire() as conn:
            with service_errors(_id_or_input_path):
                updated = await service.update_automation(
                    conn,
                    workspace_id=principal.workspace_id,
                    actor_id=principal.user_id,
                    automation_id=automation_id,
                    change=change,
                    keyring=services.keyring,
                    allow_private_hosts=services.settings.automations.allow_private_webhook_hosts,
                    now=services.clock.now(),
                )
        return UserAutomation.of(updated)

    @strawberry.mutation(description="Delete one of the token's user's own automations.")
    async def delete_user_automation(self, info: Info, id: strawberry.ID) -> bool:
        principal = info.context.principal
        automation_id = parse_id(id, "id")
        async with info.context.pool.acquire() as conn:
            with service_errors(_id_or_input_path):
                await service.delete_automation(
                    conn,
                    workspace_id=principal.workspace_id,
                    actor_id=principal.user_id,
                    automation_id=automation_id,
                    now=info.context.services.clock.now(),
                )
        return True


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/..."


def _json_or_none(value: JSON | None, field: str) -> dict[str, object] | None:
    return None if value is None else json_object(value, field)


def _id_or_input_path(field: str) -> str:
    """The automation looked up is the ``id`` argument; the rest are input fields."""
    return "id" if field == "id" else input_path(field)
