"""The official DIP YAML, read at test time from ../shared/dip-spec (never copied into the
project), with every ``$ref`` resolved to the local files, and a validator per message
variant that applies OpenAPI 3.0 semantics (``nullable``)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator

PREFIX = "https://raw.githubusercontent.com/elexon-data/dip-api-documentation/main/"
INTERFACES_FILE = "Interfaces-EventCodes-unresolved.yaml"
SUBMIT_EVENTS_FILE = "SubmitEvents-unresolved.yaml"


class OfficialSpec:
    def __init__(self, root: Path) -> None:
        self.root = root

    @functools.cache  # noqa: B019 - one instance per test session
    def document(self, name: str) -> Any:
        return yaml.safe_load((self.root / name).read_text(encoding="utf-8"))

    def resolve(self, node: Any, current: str) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                file, _, pointer = node["$ref"].partition("#")
                file = file.replace(PREFIX, "") or current
                target = self.document(file)
                for part in pointer.strip("/").split("/"):
                    target = target[part]
                resolved = self.resolve(target, file)
                extra = {k: self.resolve(v, current) for k, v in node.items() if k != "$ref"}
                return {**resolved, **extra} if extra else resolved
            return {k: self.resolve(v, current) for k, v in node.items()}
        if isinstance(node, list):
            return [self.resolve(v, current) for v in node]
        return node

    @functools.cache  # noqa: B019
    def validator(self, schema_name: str, file: str = INTERFACES_FILE) -> OAS30Validator:
        schemas = self.document(file)["components"]["schemas"]
        return OAS30Validator(self.resolve(schemas[schema_name], file))

    def errors(self, schema_name: str, instance: Any, file: str = INTERFACES_FILE) -> list[str]:
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in self.validator(schema_name, file).iter_errors(instance)
        ]

    def response_errors(self, instance: Any) -> list[str]:
        """Problems of a SubmitEvents StandardResponse (the hub's and webhooks' answers)."""
        return self.errors("StandardResponse", instance, SUBMIT_EVENTS_FILE)

    def is_valid(self, schema_name: str, instance: Any) -> bool:
        return self.validator(schema_name).is_valid(instance)
