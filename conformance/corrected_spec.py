"""Chatwoot's OpenAPI contract with the corrections `chatwoot-behaviour.md` documents.

The spec is Chatwoot's own and is wrong in places; Roster follows the real server. The
conformance run validates responses against this corrected copy, so every correction is
listed here with the section of the behaviour notes that justifies it, and nothing else
of the contract changes.

    python3 conformance/corrected_spec.py ../shared/api/chatwoot.openapi.json > corrected.json
"""

import copy
import json
import sys

# §2: every error body is `{"error": …}`, `{"errors": [...]}` (no credentials at all) or,
# for validation, `{"message": …, "attributes": [...]}`; never the spec's bad_request_error.
CHATWOOT_ERROR = {
    "oneOf": [
        {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["errors"],
            "properties": {"errors": {"type": "array", "items": {"type": "string"}}},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["message", "attributes"],
            "properties": {
                "message": {"type": "string"},
                "attributes": {"type": "array", "items": {"type": "string"}},
            },
            "additionalProperties": False,
        },
    ]
}

CONTACT = {"$ref": "#/components/schemas/contact_list_item"}


def json_response(description, schema):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def correct(spec):
    spec = copy.deepcopy(spec)
    spec["components"]["schemas"]["chatwoot_error"] = CHATWOOT_ERROR
    error_ref = {"$ref": "#/components/schemas/chatwoot_error"}
    base = "/api/v1/accounts/{account_id}"
    paths = spec["paths"]
    for item in paths.values():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation["responses"]
            # §1.0, §2: auth failures are 401 (never 403), unknown records 404, validation
            # 422; all in Chatwoot's own error shapes.
            responses.pop("403", None)
            for status in ("400", "401", "404", "422"):
                responses[status] = json_response("Chatwoot error body", error_ref)

    # §3.4.1: create answers {payload: {contact, contact_inbox}}, inbox_id is optional.
    create = paths[base + "/contacts"]["post"]
    create["responses"]["200"] = json_response(
        "The created contact and its inbox link",
        {
            "type": "object",
            "required": ["payload"],
            "properties": {
                "payload": {
                    "type": "object",
                    "required": ["contact", "contact_inbox"],
                    "properties": {
                        "contact": CONTACT,
                        "contact_inbox": {
                            "type": "object",
                            "properties": {
                                "inbox": {"type": ["object", "null"]},
                                "source_id": {"type": ["string", "null"]},
                            },
                        },
                    },
                }
            },
        },
    )
    body = create["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in body:
        name = body["$ref"].rsplit("/", 1)[1]
        spec["components"]["schemas"][name].pop("required", None)

    # §3.4.2: update answers 200 {payload: contact}, not 204.
    update = paths[base + "/contacts/{id}"]["put"]
    update["responses"].pop("204", None)
    update["responses"]["200"] = json_response(
        "The updated contact", {"type": "object", "properties": {"payload": CONTACT}}
    )

    # §3.1: `provider` of an inbox is null when the channel has none.
    inbox = spec["components"]["schemas"]["inbox_contact"]["properties"]
    inbox["provider"]["type"] = ["string", "null"]
    return spec


if __name__ == "__main__":
    with open(sys.argv[1]) as source:
        json.dump(correct(json.load(source)), sys.stdout, indent=1)
