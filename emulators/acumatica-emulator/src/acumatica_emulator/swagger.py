"""A minimal OpenAPI 3 document of one Default endpoint version, generated from the catalog."""

from __future__ import annotations

import functools

from acumatica_client import catalog

_SCHEMA_OF = {
    "StringValue": {"type": "string"},
    "GuidValue": {"type": "string", "format": "uuid"},
    "DateTimeValue": {"type": "string", "format": "date-time"},
    "BooleanValue": {"type": "boolean"},
    "IntValue": {"type": "integer", "format": "int32"},
    "ShortValue": {"type": "integer", "format": "int32"},
    "LongValue": {"type": "integer", "format": "int64"},
    "ByteValue": {"type": "integer"},
    "DecimalValue": {"type": "number", "format": "double"},
    "DoubleValue": {"type": "number"},
}


@functools.cache
def swagger_document(version: str, instance: str) -> dict:
    schemas: dict[str, dict] = {}
    for name, ftype in _SCHEMA_OF.items():
        schemas[name] = {"type": "object", "properties": {"value": dict(ftype, nullable=True)}}
    for entity in catalog._version(version):  # every entity, detail and linked type
        props = {}
        for field, ftype in catalog.fields(version, entity).items():
            if catalog.is_scalar(ftype):
                props[field] = {"$ref": f"#/components/schemas/{ftype}"}
            elif catalog.is_detail(ftype):
                props[field] = {
                    "type": "array",
                    "items": {"$ref": f"#/components/schemas/{catalog.element_type(ftype)}"},
                }
            else:
                props[field] = {"$ref": f"#/components/schemas/{ftype}"}
        props.update(
            {
                "id": {"type": "string", "format": "uuid"},
                "rowNumber": {"type": "integer"},
                "note": {"$ref": "#/components/schemas/StringValue"},
                "custom": {"type": "object"},
            }
        )
        schemas[entity] = {"type": "object", "properties": props}
    for ref in [f for e in list(schemas.values()) for f in e.get("properties", {}).values()]:
        target = (ref.get("$ref") or ref.get("items", {}).get("$ref") or "").rsplit("/", 1)[-1]
        if target and target not in schemas:
            schemas[target] = {"type": "object"}
    paths = {}
    for entity in catalog.entities(version):
        ref = {"$ref": f"#/components/schemas/{entity}"}
        params = [
            {"name": n, "in": "query", "schema": {"type": "string"}}
            for n in ("$select", "$filter", "$expand", "$custom", "$skip", "$top")
        ]
        paths[f"/{entity}"] = {
            "get": {
                "tags": [entity],
                "operationId": f"{entity}_GetList",
                "parameters": params,
                "responses": {
                    "200": {
                        "description": "Success",
                        "content": {"application/json": {"schema": {"type": "array", "items": ref}}},
                    }
                },
            },
            "put": {
                "tags": [entity],
                "operationId": f"{entity}_PutEntity",
                "requestBody": {"content": {"application/json": {"schema": ref}}},
                "responses": {
                    "200": {"description": "Success", "content": {"application/json": {"schema": ref}}}
                },
            },
        }
    return {
        "openapi": "3.0.1",
        "info": {"title": "Default/" + version, "version": version},
        "servers": [{"url": f"{instance}/entity/Default/{version}"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "password": {
                            "tokenUrl": f"{instance}/identity/connect/token",
                            "scopes": {"api": "API"},
                        }
                    },
                }
            },
        },
    }
