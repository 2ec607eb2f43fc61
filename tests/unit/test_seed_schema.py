"""The API keeps the seed's contract: `crm-agents schema` has every type, field, argument and
enum value of the seed's SDL (tests/data/seed_schema.graphql), with the same types.

ARCHITECTURE ("Schema evolution and the seed") lets the API add types, fields, optional
arguments and enum values, never change what the seed says; so this compares one way, seed
to ours, and allows only optional extra arguments on the seed's fields.
"""

from __future__ import annotations

from pathlib import Path

import graphql
import pytest
from graphql.language import (
    EnumTypeDefinitionNode,
    FieldDefinitionNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    TypeNode,
)

from runtime.api.schema import schema_sdl
from runtime.cli import main

SEED = Path(__file__).resolve().parents[1] / "data" / "seed_schema.graphql"


@pytest.fixture(scope="module")
def seed() -> graphql.DocumentNode:
    return graphql.parse(SEED.read_text())


@pytest.fixture(scope="module")
def ours() -> graphql.GraphQLSchema:
    return graphql.build_schema(schema_sdl())


def test_the_contract_is_the_seeds_whole_block(seed: graphql.DocumentNode) -> None:
    names = {d.name.value for d in seed.definitions if hasattr(d, "name")}
    assert {"Query", "Mutation", "Subscription", "AgentConfig", "ActionType"} <= names
    assert len(seed.definitions) == 17  # 3 roots, 6 object types, 8 enums


def test_every_seed_type_field_and_argument_is_ours_with_the_same_type(
    seed: graphql.DocumentNode, ours: graphql.GraphQLSchema
) -> None:
    problems: list[str] = []
    for definition in seed.definitions:
        if isinstance(definition, ObjectTypeDefinitionNode):
            problems += _object_problems(definition, ours)
    assert not problems, "\n".join(problems)


def test_every_seed_enum_value_is_ours(
    seed: graphql.DocumentNode, ours: graphql.GraphQLSchema
) -> None:
    problems: list[str] = []
    for definition in seed.definitions:
        if not isinstance(definition, EnumTypeDefinitionNode):
            continue
        name = definition.name.value
        enum = ours.get_type(name)
        if not isinstance(enum, graphql.GraphQLEnumType):
            problems.append(f"enum {name}: missing")
            continue
        problems += [
            f"enum {name}: value {value.name.value} missing"
            for value in definition.values or ()
            if value.name.value not in enum.values
        ]
    assert not problems, "\n".join(problems)


def test_every_type_the_seed_names_without_defining_exists(
    seed: graphql.DocumentNode, ours: graphql.GraphQLSchema
) -> None:
    named: set[str] = set()
    for definition in seed.definitions:
        if isinstance(definition, ObjectTypeDefinitionNode):
            for field in definition.fields or ():
                named.add(_named(field.type))
                named.update(_named(arg.type) for arg in field.arguments or ())
    missing = sorted(name for name in named if ours.get_type(name) is None)
    assert not missing, f"types the seed names are missing: {missing}"


def test_the_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["schema"])
    assert exited.value.code == 0
    printed = capsys.readouterr().out
    assert printed == schema_sdl()
    assert "type Query" in printed


def _object_problems(
    definition: ObjectTypeDefinitionNode, ours: graphql.GraphQLSchema
) -> list[str]:
    name = definition.name.value
    found = ours.get_type(name)
    if not isinstance(found, graphql.GraphQLObjectType):
        return [f"type {name}: missing"]
    problems: list[str] = []
    for field in definition.fields or ():
        problems += _field_problems(name, field, found.fields.get(field.name.value))
    return problems


def _field_problems(
    type_name: str, field: FieldDefinitionNode, ours: graphql.GraphQLField | None
) -> list[str]:
    where = f"{type_name}.{field.name.value}"
    if ours is None:
        return [f"{where}: missing"]
    problems = []
    wanted = graphql.print_ast(field.type)
    if str(ours.type) != wanted:
        problems.append(f"{where}: type {ours.type}, the seed says {wanted}")
    seed_args = {arg.name.value: graphql.print_ast(arg.type) for arg in field.arguments or ()}
    for arg_name, arg_type in seed_args.items():
        arg = ours.args.get(arg_name)
        if arg is None:
            problems.append(f"{where}({arg_name}): missing")
        elif str(arg.type) != arg_type:
            problems.append(f"{where}({arg_name}): type {arg.type}, the seed says {arg_type}")
    for arg_name, arg in ours.args.items():
        if arg_name not in seed_args and graphql.is_required_argument(arg):
            problems.append(f"{where}({arg_name}): an added argument must be optional")
    return problems


def _named(type_node: TypeNode) -> str:
    if isinstance(type_node, ListTypeNode | NonNullTypeNode):
        return _named(type_node.type)
    assert isinstance(type_node, NamedTypeNode)
    return type_node.name.value
