"""The payloads we build, validated against Meta's own OpenAPI description (v23.0).

The file needs the fixes NOTES.md describes before plain JSON Schema can use it, and has a
few errors of its own; ``KNOWN_DEVIATIONS`` patches exactly those and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from whatsapp.outbound import (
    document_payload,
    image_payload,
    location_payload,
    reaction_payload,
    read_receipt_payload,
    sticker_payload,
    template_params_components,
    template_payload,
    text_payload,
    video_payload,
)

URI = "urn:meta:business-messaging-api"
SCHEMAS = "components/schemas"


def _unrequire(schema: dict[str, Any], field: str) -> None:
    schema["required"] = [f for f in schema["required"] if f != field]


def _number(schema: dict[str, Any]) -> None:
    for axis in ("latitude", "longitude"):
        schema["allOf"][1]["properties"]["location"]["properties"][axis]["type"] = "number"


# Errors in Meta's file (NOTES.md, "known defects"), each patched narrowly:
KNOWN_DEVIATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    # `language.policy` is required by the file, but the API accepts `{"code"}` alone and
    # Meta's own template examples omit it; we send only the code.
    "LanguageObject": lambda s: _unrequire(s, "policy"),
    # latitude/longitude are typed as strings; the API and Meta's examples use numbers.
    "LocationMessage": _number,
}
# Not patched but worth knowing: the file has no schema for the mark-read body (it is only
# an example, "Send typing indicator and read receipt"), so that one is checked against the
# example instead; and BaseMessageProperties requires `recipient_type`, which we always send.


def _fix_all_of(node: Any) -> None:
    """NOTES.md fix 1: `additionalProperties: false` inside an allOf member rejects the
    other members' fields; move the restriction to the allOf node as unevaluatedProperties."""
    if isinstance(node, dict):
        members = node.get("allOf")
        if isinstance(members, list):
            closed = False
            for member in members:
                if isinstance(member, dict) and member.get("additionalProperties") is False:
                    del member["additionalProperties"]
                    closed = True
            if closed:
                node["unevaluatedProperties"] = False
        for child in node.values():
            _fix_all_of(child)
    elif isinstance(node, list):
        for child in node:
            _fix_all_of(child)


@pytest.fixture(scope="module")
def openapi(meta_dir: Path) -> dict[str, Any]:
    with (meta_dir / "business-messaging-api_v23.0.yaml").open("rb") as file:
        document: dict[str, Any] = yaml.load(file, Loader=yaml.CSafeLoader)
    _fix_all_of(document)
    for name, patch in KNOWN_DEVIATIONS.items():
        patch(document["components"]["schemas"][name])
    return document


@pytest.fixture(scope="module")
def validate(openapi: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    registry: Registry[Any] = Registry().with_resource(
        URI, Resource.from_contents(openapi, default_specification=DRAFT202012)
    )
    mapping = openapi["components"]["schemas"]["Message"]["discriminator"]["mapping"]

    def check(payload: dict[str, Any]) -> None:
        # NOTES.md fix 2: plain JSON Schema ignores the discriminator, so pick the mapped
        # sub-schema by `type` and validate against it alone.
        target = mapping[payload["type"]]
        validator = jsonschema.Draft202012Validator({"$ref": URI + target}, registry=registry)
        validator.validate(payload)

    return check


TO = "+4915100000000"
PAYLOADS = {
    "text": text_payload(TO, "Hello"),
    "text with preview and reply": text_payload(
        TO, "https://x.test", preview_url=True, reply_to="wamid.1"
    ),
    "template": template_payload(TO, "hello_world", "en_US"),
    "template with params": template_payload(
        TO, "order_update", "de", template_params_components(["Ada", "42"])
    ),
    "image by id": image_payload(TO, media_id="123", caption="look"),
    "image by link": image_payload(TO, link="https://x.test/a.jpg"),
    "document": document_payload(TO, media_id="123", caption="bill", filename="bill.pdf"),
    "video": video_payload(TO, link="https://x.test/a.mp4", reply_to="wamid.1"),
    "sticker": sticker_payload(TO, media_id="123"),
    "reaction": reaction_payload(TO, "wamid.1", "👍"),
    "reaction removed": reaction_payload(TO, "wamid.1", ""),
    "location": location_payload(TO, latitude=52.5, longitude=13.4, name="HQ", address="Main 1"),
}


@pytest.mark.parametrize("name", PAYLOADS)
def test_payload_matches_meta_s_schema(
    name: str, validate: Callable[[dict[str, Any]], None]
) -> None:
    validate(PAYLOADS[name])


@pytest.mark.parametrize(
    "broken",
    [
        {k: v for k, v in text_payload(TO, "hi").items() if k != "to"},
        {**text_payload(TO, "hi"), "surprise": 1},
        {**text_payload(TO, "hi"), "text": {"body": "hi", "bold": True}},
        {**image_payload(TO, media_id="1"), "image": {"id": "1", "link": "https://x.test"}},
    ],
)
def test_the_fixed_schema_still_rejects_bad_payloads(
    broken: dict[str, Any], validate: Callable[[dict[str, Any]], None]
) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_read_receipt_matches_meta_s_example(openapi: dict[str, Any]) -> None:
    examples = openapi["paths"]["/{Version}/{Phone-Number-ID}/messages"]["post"]["requestBody"]
    example = examples["content"]["application/json"]["examples"][
        "Send typing indicator and read receipt"
    ]["value"]
    ours = read_receipt_payload(example["message_id"])
    # The example also shows a typing indicator, which we do not send.
    assert ours == {k: v for k, v in example.items() if k != "typing_indicator"}
