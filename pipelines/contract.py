"""The published contract of a clean document: its JSON Schema, validation, and publishing to a store."""

from __future__ import annotations

import json
import logging
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from cleaning.records import SCHEMA_VERSION
from pipelines import layout
from pipelines.store import ObjectStore, StoreError

logger = logging.getLogger(__name__)

SCHEMA_CONTENT_TYPE = "application/schema+json"


class SchemaConflict(StoreError):
    """The store already holds a different schema at the (write-once) schema key."""

    code = "SchemaConflict"


def schema_bytes() -> bytes:
    """The JSON Schema shipped in the package, byte for byte."""
    return resources.files("pipelines").joinpath("schema", "document.schema.json").read_bytes()


@cache
def document_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_bytes())
    return schema


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = document_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def document_errors(doc: dict[str, Any]) -> list[jsonschema.ValidationError]:
    """Every way ``doc`` breaks the schema (empty if valid); each error's ``validator`` is the failed
    keyword (``required``, ``pattern``, ``type``…) and ``json_path`` where."""
    return sorted(_validator().iter_errors(doc), key=lambda e: list(e.path))


def validate_document(doc: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` (the most relevant error) if ``doc`` is not a valid document."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(doc))
    if error is not None:
        raise error


def publish_schema(store: ObjectStore) -> bool:
    """Write the schema at ``layout.schema_key()``, write-once. True if written, False if the identical
    schema is already there; ``SchemaConflict`` if a different one is (a contract must not change under
    readers without a version change)."""
    key = layout.schema_key()
    data = schema_bytes()
    if store.put_if_absent(key, data, SCHEMA_CONTENT_TYPE):
        logger.info("published document schema %s at %s/%s", SCHEMA_VERSION, store.url, key)
        return True
    existing = store.get(key)
    if existing != data:
        try:
            theirs = json.loads(existing).get("$id", "?")
        except ValueError:
            theirs = "unparseable"
        raise SchemaConflict(
            f"{store.url}/{key} holds a different schema ({theirs}) than this package's ({document_schema()['$id']})"
        )
    return False
