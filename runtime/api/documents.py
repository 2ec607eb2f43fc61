"""The query limits (depth, size in tokens, aliases) and the documents already checked.

A frontend sends the same few documents over and over; parsing and validating one is
about half of a small query's time and leaves thousands of objects in reference cycles
for the garbage collector. So a document that parsed and validated (with the limits) is
kept by its text, and the next request with that text skips both steps. Only successes
are kept: a document that fails goes through strawberry's own parse and validation every
time, so its errors (and the codes ``runtime.api.errors.ErrorCodes`` gives them) are
exactly those of an uncached request.

Why not strawberry's extensions: ``ParserCache`` parses inside its hook, where a syntax
error escapes ``ErrorCodes``; ``ValidationCache`` keys its entries by the validation rules,
and ``QueryDepthLimiter`` / ``MaxAliasesLimiter`` built per request (as extension factories
are) make new rule classes each time, so it never hit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import ASTValidationRule, DocumentNode
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension

__all__ = ["CheckedDocuments", "DocumentChecks"]


class CheckedDocuments:
    """One schema's documents that parsed and validated, by text; the least recently used
    goes first beyond ``maxsize``."""

    def __init__(self, *, maxsize: int, max_depth: int, max_tokens: int, max_aliases: int) -> None:
        self.maxsize = maxsize
        self.max_tokens = max_tokens
        # Built once: the rules are classes, and equal limits must give the same classes.
        self.rules: tuple[type[ASTValidationRule], ...] = (
            *QueryDepthLimiter(max_depth=max_depth).validation_rules,
            *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
        )
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, text: str) -> DocumentNode | None:
        document = self._documents.get(text)
        if document is not None:
            self._documents.move_to_end(text)
        return document

    def put(self, text: str, document: DocumentNode) -> None:
        self._documents[text] = document
        self._documents.move_to_end(text)
        while len(self._documents) > self.maxsize:
            self._documents.popitem(last=False)


class DocumentChecks(SchemaExtension):
    """Applies the limits to a new document and reuses a document checked before.

    One instance per operation (strawberry builds extensions per request); the
    ``CheckedDocuments`` are the schema's, shared by all of them.
    """

    def __init__(self, checked: CheckedDocuments) -> None:
        super().__init__()
        self.checked = checked
        self.known = False

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        document = self.checked.get(context.query) if context.query else None
        if document is not None:
            # Strawberry parses only when no document is set, and validates only while
            # no errors are set: an empty list says "validated, no errors".
            context.graphql_document = document
            context.pre_execution_errors = []
            self.known = True
        else:
            context.parse_options["max_tokens"] = self.checked.max_tokens
            context.validation_rules = (*context.validation_rules, *self.checked.rules)
        yield

    def on_execute(self) -> Iterator[None]:
        # Execution starts only after a document parsed and passed validation.
        context = self.execution_context
        if not self.known and context.query and context.graphql_document is not None:
            self.checked.put(context.query, context.graphql_document)
        yield
