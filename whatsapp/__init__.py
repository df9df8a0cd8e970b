"""The Meta WhatsApp Cloud API adapter: client, payload builders, webhook parsing, errors."""

from whatsapp.client import WhatsAppClient
from whatsapp.errors import (
    CLASSIFICATION,
    MetaAPIError,
    MetaTransportError,
    classify,
    problem_of,
)
from whatsapp.media import MediaInfo
from whatsapp.outbound import (
    ContentError,
    audio_payload,
    buttons_payload,
    contacts_payload,
    content_payload,
    cta_url_payload,
    document_payload,
    image_payload,
    list_payload,
    location_payload,
    media_payload,
    reaction_payload,
    read_receipt_payload,
    sticker_payload,
    template_components,
    template_params_components,
    template_payload,
    text_payload,
    video_payload,
)
from whatsapp.signature import SIGNATURE_HEADER, sign, verify_signature
from whatsapp.templates import parse_template, send_components
from whatsapp.webhooks import WebhookParser, parse_payload

__all__ = [
    "CLASSIFICATION",
    "SIGNATURE_HEADER",
    "ContentError",
    "MediaInfo",
    "MetaAPIError",
    "MetaTransportError",
    "WebhookParser",
    "WhatsAppClient",
    "audio_payload",
    "buttons_payload",
    "classify",
    "contacts_payload",
    "content_payload",
    "cta_url_payload",
    "document_payload",
    "image_payload",
    "list_payload",
    "location_payload",
    "media_payload",
    "parse_payload",
    "parse_template",
    "problem_of",
    "reaction_payload",
    "read_receipt_payload",
    "send_components",
    "sign",
    "sticker_payload",
    "template_components",
    "template_params_components",
    "template_payload",
    "text_payload",
    "verify_signature",
    "video_payload",
]
