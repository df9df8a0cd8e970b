"""Pure builders of the JSON bodies ``POST /{phone_number_id}/messages`` accepts.

Each builder checks what Meta would refuse anyway, so a bad message fails here with a
``ContentError`` (a ``ValueError``) naming the field and the rule, instead of a round trip
and an error code. ``content_payload`` turns the REST API's content forms (CONTRACT.md,
"Content by type") into a body through the same checks.

Limits are those Meta's OpenAPI description states, else those of Meta's documentation.

One module per kind of message: ``messages`` (text, media, location, reaction, read
receipt), ``contacts``, ``interactive``, ``templates``; ``fields`` holds the checks they share,
and ``forms`` the REST API's forms.
"""

from __future__ import annotations

from whatsapp.outbound.contacts import contacts_payload
from whatsapp.outbound.fields import ContentError, normalize_recipient
from whatsapp.outbound.forms import content_payload
from whatsapp.outbound.interactive import buttons_payload, cta_url_payload, list_payload
from whatsapp.outbound.messages import (
    MAX_CAPTION,
    MAX_TEXT,
    audio_payload,
    document_payload,
    image_payload,
    location_payload,
    media_payload,
    reaction_payload,
    read_receipt_payload,
    sticker_payload,
    text_payload,
    video_payload,
)
from whatsapp.outbound.templates import (
    template_components,
    template_params_components,
    template_payload,
)

__all__ = [
    "MAX_CAPTION",
    "MAX_TEXT",
    "ContentError",
    "audio_payload",
    "buttons_payload",
    "contacts_payload",
    "content_payload",
    "cta_url_payload",
    "document_payload",
    "image_payload",
    "list_payload",
    "location_payload",
    "media_payload",
    "normalize_recipient",
    "reaction_payload",
    "read_receipt_payload",
    "sticker_payload",
    "template_components",
    "template_params_components",
    "template_payload",
    "text_payload",
    "video_payload",
]
