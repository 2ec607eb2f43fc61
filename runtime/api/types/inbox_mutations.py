"""The decisions on inbox items: ``approveInboxItem`` (all fields, or some, possibly
edited), ``rejectInboxItem``, ``batchApproveInboxItems`` (rules in
``runtime.inbox.decisions``) and ``answerInboxQuestion`` (``runtime.inbox.answers``).

The decider is the token's user. A member decides only the items addressed to them
(``FORBIDDEN`` otherwise), an admin any item of the workspace; an item of another workspace
is ``NOT_FOUND``; an item no longer pending (a second click, a retry, a racing expiry), or a
question, is ``CONFLICT`` and nothing changes.

``batchApproveInboxItems`` keeps the seed's signature and reports per item: each item is
decided on its own; the list holds every item the caller may see in its current state
(decided here, or already decided by someone else), in the order given (a repeated id
once); the response's ``errors`` hold one error per id not decided here, with
``extensions.code`` (``CONFLICT``, ``NOT_FOUND``, ``FORBIDDEN``), ``extensions.id`` (the
id) and ``extensions.field`` (``ids.<index>``). At most ``MAX_BATCH`` ids.
"""

from __future__ import annotations

from uuid import UUID

import strawberry

from runtime.api.context import ApiContext
from runtime.api.errors import ApiError, ErrorCode, api_error_from, report_error
from runtime.api.ids import parse_id, parse_ids
from runtime.api.types.activity import ActivityLog
from runtime.api.types.inbox import InboxItem
from runtime.errors import ClientError, ConflictError, NotFoundError
from runtime.inbox.answers import QuestionAnswers
from runtime.inbox.decisions import MAX_BATCH, InboxDecisions
from runtime.inbox.edits import FieldApproval

__all__ = ["Mutation"]

Info = strawberry.Info[ApiContext, None]


@strawberry.input(description="One field to approve, as proposed or with an edited value.")
class FieldApprovalInput:
    field: str = strawberry.field(description="The CRM property, as the item's proposal names it.")
    value: str | None = strawberry.field(
        default=None,
        description="The value to write instead of the proposed one, in any form the"
        " property takes (`60,000`, a stage's label or id, `2026-05-01`); it is approved in"
        " the CRM's own form. Leave it out to approve the proposed value.",
    )


@strawberry.type(description="A question answered: the question, and where its fields went.")
class AnswerInboxQuestionPayload:
    question: InboxItem = strawberry.field(description="The question, now ANSWERED.")
    follow_up: InboxItem | None = strawberry.field(
        description="The APPROVAL item holding the fields that still need a person; null"
        " when every field was queued for writing or needs no change."
    )
    activity_log: ActivityLog = strawberry.field(
        description="The run's activity, now about the picked deal."
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Approve an item: every pending field as proposed, or only `fields` (each"
        " as proposed or with an edited `value`, checked against the CRM's property"
        " definitions; the item's other pending fields are rejected). Approved fields are"
        " queued for writing to the CRM. CONFLICT when the item is no longer pending or is a"
        " question."
    )
    async def approve_inbox_item(
        self, info: Info, id: strawberry.ID, fields: list[FieldApprovalInput] | None = None
    ) -> InboxItem:
        principal = info.context.principal
        approvals = None
        if fields is not None:
            approvals = [FieldApproval(f.field, f.value) for f in fields]
        decision = await _decisions(info).approve(principal, parse_id(id, "id"), approvals)
        return InboxItem.of(decision.item)

    @strawberry.mutation(
        description="Reject an item and its pending fields; `reason` (optional, up to 2,000"
        " characters) is kept with the decision."
    )
    async def reject_inbox_item(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> InboxItem:
        principal = info.context.principal
        decision = await _decisions(info).reject(principal, parse_id(id, "id"), reason)
        return InboxItem.of(decision.item)

    @strawberry.mutation(
        description="Answer a QUESTION item: the meeting is about the CRM deal `dealId`. The"
        " agent's routing runs again for that deal: confident fields are queued for writing,"
        " the rest go to a new APPROVAL item for the same person (`followUp`). The question"
        " becomes ANSWERED. CONFLICT when the item is not a pending question; BAD_USER_INPUT"
        " (`dealId`) when the CRM has no such deal."
    )
    async def answer_inbox_question(
        self, info: Info, id: strawberry.ID, deal_id: str
    ) -> AnswerInboxQuestionPayload:
        services = info.context.services
        answers = QuestionAnswers(
            services.pool, services.clock, services.crms(), extractor=services.extractor()
        )
        answer = await answers.answer(info.context.principal, parse_id(id, "id"), deal_id)
        return AnswerInboxQuestionPayload(
            question=InboxItem.of(answer.question),
            follow_up=None if answer.follow_up is None else InboxItem.of(answer.follow_up),
            activity_log=ActivityLog.of(answer.activity),
        )

    @strawberry.mutation(
        description=f"Approve up to {MAX_BATCH} items, each on its own. Returns every item the"
        " caller may see in its current state; each id not approved here has its own error"
        " (`extensions.id`, `extensions.code`: CONFLICT, NOT_FOUND or FORBIDDEN)."
    )
    async def batch_approve_inbox_items(
        self, info: Info, ids: list[strawberry.ID]
    ) -> list[InboxItem]:
        principal = info.context.principal
        if len(ids) > MAX_BATCH:
            raise ApiError.bad_input("ids", f"at most {MAX_BATCH} items at once, not {len(ids)}")
        item_ids = parse_ids(list(ids), "ids")
        outcomes = await _decisions(info).batch_approve(principal, item_ids)
        index_of: dict[UUID, int] = {}  # a repeated id is named by its first place
        for index, item_id in enumerate(item_ids):
            index_of.setdefault(item_id, index)
        for outcome in outcomes:
            if outcome.error is not None:
                error = _item_error(outcome.error, index_of[outcome.item_id])
                report_error(info.context, info.path.as_list(), error, id=str(outcome.item_id))
        return [InboxItem.of(o.item) for o in outcomes if o.item is not None]


def _decisions(info: Info) -> InboxDecisions:
    services = info.context.services
    return InboxDecisions(services.pool, services.clock, services.crms())


def _item_error(error: ClientError, index: int) -> ApiError:
    """A batch item's error, named by its place in ``ids`` rather than as ``id``."""
    field = f"ids.{index}"
    mapped = api_error_from(error)
    code = ErrorCode(str((mapped.extensions or {}).get("code")))
    if isinstance(error, ConflictError):
        return ApiError(f"{field}: {error.reason}", code, field=field)
    if isinstance(error, NotFoundError):
        return ApiError(f"{field}: no {error.kind} {error.key}", code, field=field)
    return ApiError(mapped.message, code, field=field)
