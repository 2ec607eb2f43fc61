"""bench.api's data set: workspaces of unequal size, their members and agents, and months of
meetings, activity rows and inbox items generated inside PostgreSQL.

The shape (``DataShape``): ``workspaces`` workspaces, the first (the big tenant) holding
``big_share`` of the meetings and the others' shares falling off as 1 / rank^0.8; each
workspace has a few members (the big one 40) and agents (the big one 8), its first member an
admin. A meeting belongs to one agent and one owner (the first members own most: a few busy
account executives) and touches ``activities_per_meeting`` CRM records (a deal, contacts, a
company), one activity row each, over the last 90 days; ``inbox_items`` of the activities
that were not skips raised an inbox item for the meeting's owner. The rows come from
``INSERT ... SELECT`` over ``generate_series`` (``api_data.sql``, which only this module
runs), in one transaction, then ``VACUUM ANALYZE``: the statistics and visibility map a
table that grew over months has.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import asyncpg

from runtime.agent_configs.models import AgentConfigCreate, AgentStatus
from runtime.agent_configs.repo import AgentConfigRepo
from runtime.agents.templates import all_templates
from runtime.db.named_sql import load_queries
from runtime.db.pool import init_connection
from runtime.tokens.models import Principal
from runtime.tokens.service import issue_token
from runtime.users.models import Role, UserCreate
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo

__all__ = ["DataSet", "DataShape", "Member", "Workspace", "load_data_set"]

_SQL = load_queries(Path(__file__).with_name("api_data.sql"))

# What an agent changes on each kind of record (in the order of insert_activities' record
# types), with plausible values: a row's fields are the first 1 to 4 of its type's.
_FIELDS: dict[str, list[tuple[str, list[str]]]] = {
    "deal": [
        (
            "dealstage",
            [
                "appointmentscheduled",
                "qualifiedtobuy",
                "presentationscheduled",
                "decisionmakerboughtin",
                "contractsent",
                "closedwon",
            ],
        ),
        ("amount", ["12000", "24500", "48000", "75000", "120000", "250000"]),
        ("closedate", ["2026-03-31", "2026-04-30", "2026-05-29", "2026-06-30", "2026-09-30"]),
        (
            "hs_next_step",
            [
                "Send the security questionnaire and book a pricing review with procurement",
                "Share the ROI model with the CFO before the steering committee on Thursday",
                "Schedule a technical deep dive with their platform team and our SE",
                "Draft the order form with the three-year ramp discussed on the call",
            ],
        ),
    ],
    "contact": [
        ("jobtitle", ["VP Sales", "Head of RevOps", "CFO", "Procurement Lead", "CTO"]),
        ("lifecyclestage", ["lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity"]),
        ("phone", ["+1 415 555 0134", "+44 20 7946 0958", "+49 30 901820", "+1 646 555 0199"]),
        ("hs_lead_status", ["NEW", "OPEN", "IN_PROGRESS", "CONNECTED", "ATTEMPTED_TO_CONTACT"]),
    ],
    "company": [
        ("industry", ["COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "RETAIL"]),
        ("numberofemployees", ["45", "180", "950", "4200", "18000"]),
        ("annualrevenue", ["5000000", "28000000", "140000000", "900000000"]),
        (
            "description",
            [
                "Mid-market logistics platform expanding into EMEA this year",
                "Regional bank consolidating three CRMs after an acquisition",
                "Healthcare network piloting the product in two hospitals",
            ],
        ),
    ],
}
_VARIANTS = 64  # of each record type's fields_updated, per action and number of fields


@dataclass(frozen=True)
class DataShape:
    """How much to generate, and how it is spread."""

    workspaces: int
    meetings: int
    activities_per_meeting: int
    inbox_items: int
    big_share: float = 0.30
    big_members: int = 40
    big_agents: int = 8

    @property
    def activity_logs(self) -> int:
        return self.meetings * self.activities_per_meeting

    def members_of(self, index: int) -> int:
        return self.big_members if index == 0 else 3 + (index * 7) % 10

    def agents_of(self, index: int) -> int:
        return self.big_agents if index == 0 else 2 + index % 3

    def share_starts(self) -> list[float]:
        """Where each workspace's share of [0, 1) starts: the big one first, then the rest
        by 1 / rank^0.8 (a long tail of small tenants)."""
        tail = [1.0 / rank**0.8 for rank in range(1, self.workspaces)]
        total = sum(tail) or 1.0
        shares = [self.big_share, *((1.0 - self.big_share) * w / total for w in tail)]
        starts, at = [], 0.0
        for share in shares:
            starts.append(at)
            at += share
        return starts


@dataclass(frozen=True)
class Member:
    user_id: UUID
    email: str
    role: Role
    token: str
    principal: Principal


@dataclass(frozen=True)
class Workspace:
    id: UUID
    members: tuple[Member, ...]
    agent_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class DataSet:
    """What was loaded, with the figures a report shows."""

    workspaces: tuple[Workspace, ...]
    meetings: int
    activity_logs: int
    inbox_items: int
    setup_s: float
    rows_s: float  # generating the rows
    load_s: float  # the rows, then their indexes and foreign keys
    vacuum_analyze_s: float
    table_bytes: dict[str, int]
    big_activity_logs: int  # the big tenant's
    big_pending_items: tuple[int, ...]  # each of the big tenant's members', in their order

    @property
    def big(self) -> Workspace:
        """The big tenant: the first workspace, holding the largest share."""
        return self.workspaces[0]


async def load_data_set(dsn: str, shape: DataShape) -> DataSet:
    """Create the workspaces, members (each with an API token) and agents, then generate
    the rows (see the module docstring)."""
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)  # the product's JSON codec: its repositories run here too
    try:
        started = time.perf_counter()
        workspaces = [await _workspace(conn, index, shape) for index in range(shape.workspaces)]
        setup_s = time.perf_counter() - started

        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(_SQL["tune_load"])
            await conn.execute(_SQL["define_unit"])
            deferred = [
                *await conn.fetch(_SQL["deferred_foreign_keys"]),
                *await conn.fetch(_SQL["deferred_indexes"]),
            ]
            for row in deferred:
                await conn.execute(row["drop_statement"])
            await conn.execute(_SQL["pause_notify_triggers"])
            await conn.execute(_SQL["plan_meetings"], *_plan_args(workspaces, shape))
            await conn.execute(_SQL["insert_meetings"])
            await conn.execute(
                _SQL["insert_activities"],
                shape.activities_per_meeting,
                fields_variants(_VARIANTS),
                _VARIANTS,
            )
            await conn.execute(_SQL["insert_inbox_items"], shape.inbox_items)
            await conn.execute(_SQL["resume_notify_triggers"])
            rows_s = time.perf_counter() - started
            for row in reversed(deferred):  # indexes first: the keys' checks use them
                await conn.execute(row["create_statement"])
        load_s = time.perf_counter() - started

        started = time.perf_counter()
        await conn.execute(_SQL["vacuum_analyze"])
        vacuum_s = time.perf_counter() - started

        counts = await conn.fetchrow(_SQL["row_counts"])
        sizes = {row["name"]: int(row["bytes"]) for row in await conn.fetch(_SQL["table_sizes"])}
        big = workspaces[0]
        big_rows = int(await conn.fetchval(_SQL["workspace_activity_count"], big.id))
        pending = await conn.fetch(
            _SQL["pending_items_of_users"], big.id, [m.user_id for m in big.members]
        )
    finally:
        await conn.close()
    return DataSet(
        workspaces=tuple(workspaces),
        meetings=int(counts["meetings"]),
        activity_logs=int(counts["activity_logs"]),
        inbox_items=int(counts["inbox_items"]),
        setup_s=setup_s,
        rows_s=rows_s,
        load_s=load_s,
        vacuum_analyze_s=vacuum_s,
        table_bytes=sizes,
        big_activity_logs=big_rows,
        big_pending_items=tuple(int(row["pending"]) for row in pending),
    )


async def _workspace(conn: asyncpg.Connection, index: int, shape: DataShape) -> Workspace:
    created = await WorkspaceRepo(conn).create(WorkspaceCreate(name=f"bench.api tenant {index}"))
    members = []
    for number in range(shape.members_of(index)):
        role: Role = "admin" if number == 0 else "member"
        email = f"rep{number}@tenant{index}.bench.example"
        member, _ = await add_user_to_workspace(
            conn, created.id, UserCreate(email=email), role=role
        )
        issued = await issue_token(conn, created.id, member.user.id, name="bench.api")
        principal = Principal(
            token_id=issued.token.id, workspace_id=created.id, user_id=member.user.id, role=role
        )
        members.append(Member(member.user.id, email, role, issued.secret, principal))
    repo = AgentConfigRepo(conn)
    templates = all_templates()
    agents = []
    drafts: tuple[AgentStatus, ...] = ("draft",)
    for number in range(shape.agents_of(index)):
        template = templates[number % len(templates)]
        new = AgentConfigCreate(
            name=f"{template.name} {number + 1}",
            config=template.config,
            description=template.description,
        )
        agent = await repo.insert(created.id, members[0].user_id, new)
        await repo.set_status(created.id, agent.id, to="active", allowed_from=drafts)
        agents.append(agent)
    return Workspace(created.id, tuple(members), tuple(a.id for a in agents))


def fields_variants(variants: int) -> list[dict[str, dict[str, object]]]:
    """Every ``fields_updated`` of ``insert_activities``, in the order it looks them up:
    per record type, action (update, create), number of fields (1 to 4), ``variants`` each
    with its own values and confidences (the same on every run)."""
    draw = random.Random(9)
    found: list[dict[str, dict[str, object]]] = []
    for fields in _FIELDS.values():
        for is_create in (False, True):
            for count in range(1, 5):
                for variant in range(variants):
                    found.append(
                        {
                            name: {
                                "before": None
                                if is_create
                                else values[(variant + i) % len(values)],
                                "after": values[(variant + i + 1) % len(values)],
                                "confidence": round(0.5 + draw.random() * 0.49, 2),
                            }
                            for i, (name, values) in enumerate(fields[:count])
                        }
                    )
    return found


def _plan_args(workspaces: Sequence[Workspace], shape: DataShape) -> list[object]:
    """The parameters of ``plan_meetings``: per workspace its id, share, members, agents."""
    user_ids: list[UUID] = []
    emails: list[str] = []
    user_offsets: list[int] = []
    agent_ids: list[UUID] = []
    agent_offsets: list[int] = []
    call_types: list[str] = []
    for workspace in workspaces:
        user_offsets.append(len(user_ids))
        user_ids.extend(m.user_id for m in workspace.members)
        emails.extend(m.email for m in workspace.members)
        agent_offsets.append(len(agent_ids))
        agent_ids.extend(workspace.agent_ids)
    templates = all_templates()
    for workspace in workspaces:
        call_types.extend(
            templates[number % len(templates)].call_type
            for number in range(len(workspace.agent_ids))
        )
    return [
        shape.meetings,
        [w.id for w in workspaces],
        shape.share_starts(),
        user_offsets,
        [len(w.members) for w in workspaces],
        user_ids,
        emails,
        agent_offsets,
        [len(w.agent_ids) for w in workspaces],
        agent_ids,
        call_types,
    ]
