"""Which WhatsApp media kind an agent's file goes out as, and when it is too large to go."""

from __future__ import annotations

import pytest

from bridge.domain.media import MEDIA_LIMITS, outbound_file

KB = 1024
MB = 1024 * KB


@pytest.mark.parametrize(
    ("mime", "kind"),
    [
        ("image/jpeg", "image"),
        ("image/png", "image"),
        ("video/mp4", "video"),
        ("video/3gpp", "video"),
        ("audio/aac", "audio"),
        ("audio/amr", "audio"),
        ("audio/mpeg", "audio"),
        ("audio/mp4", "audio"),
        ("audio/ogg", "audio"),
        ("image/webp", "sticker"),
        ("application/pdf", "document"),
        # Slack's MIME types may carry parameters or capitals.
        ("IMAGE/PNG", "image"),
        ("audio/ogg; codecs=opus", "audio"),
        # Types WhatsApp does not show inline go as documents, whatever their size.
        ("image/gif", "document"),
        ("image/heic", "document"),
        ("video/quicktime", "document"),
        ("application/octet-stream", "document"),
        ("", "document"),
    ],
)
def test_each_kind_by_mime_type(mime: str, kind: str) -> None:
    fit = outbound_file("file", mime, 10 * KB)
    assert (fit.kind, fit.limit, fit.refusal) == (kind, MEDIA_LIMITS[kind], None)


@pytest.mark.parametrize(
    ("mime", "limit"),
    [
        ("image/png", 5 * MB),
        ("video/mp4", 16 * MB),
        ("audio/mpeg", 16 * MB),
        ("application/pdf", 100 * MB),
    ],
)
def test_a_file_exactly_at_the_limit_goes_and_one_byte_more_does_not(mime: str, limit: int) -> None:
    assert outbound_file("f", mime, limit).refusal is None
    over = outbound_file("f", mime, limit + 1)
    assert over.refusal is not None and over.limit == limit


def test_a_webp_over_the_sticker_limit_is_a_picture_sent_as_a_document() -> None:
    assert outbound_file("s.webp", "image/webp", 100 * KB).kind == "sticker"
    larger = outbound_file("photo.webp", "image/webp", 100 * KB + 1)
    assert (larger.kind, larger.refusal) == ("document", None)
    huge = outbound_file("photo.webp", "image/webp", 100 * MB + 1)
    assert huge.kind == "document" and huge.refusal is not None


def test_a_refusal_names_the_file_its_size_and_the_limit_and_offers_a_way() -> None:
    fit = outbound_file("holiday.mp4", "video/mp4", 40 * MB)
    assert fit.refusal == (
        "holiday.mp4 is 40 MB; WhatsApp takes videos up to 16 MB. Send a smaller video "
        "(up to 16 MB), or a link to it. Zipped, it can go as a document of up to 100 MB."
    )
    document = outbound_file("archive.zip", "application/zip", 120 * MB)
    assert document.refusal == (
        "archive.zip is 120 MB; WhatsApp takes documents up to 100 MB. Share a link to it instead."
    )


@pytest.mark.parametrize(
    ("mime", "size", "said"),
    [
        # Just over a limit never reads as the limit itself.
        ("image/png", 5 * MB + 1, "is 5.1 MB; WhatsApp takes images up to 5 MB."),
        ("video/mp4", 16 * MB + 1, "is 16.1 MB; WhatsApp takes videos up to 16 MB."),
        ("audio/ogg", 16 * MB + MB // 2, "is 16.5 MB; WhatsApp takes audio files up to 16 MB."),
        ("application/pdf", 100 * MB + 1, "is 100.1 MB; WhatsApp takes documents up to 100 MB."),
    ],
)
def test_the_size_said_is_over_the_limit_said(mime: str, size: int, said: str) -> None:
    refusal = outbound_file("f", mime, size).refusal
    assert refusal is not None and said in refusal


def test_an_audio_refusal_reads_as_english() -> None:
    refusal = outbound_file("call.ogg", "audio/ogg", 20 * MB).refusal
    assert refusal is not None and "Send a smaller audio file (up to 16 MB)" in refusal


def test_a_file_of_unknown_size_is_not_refused_here() -> None:
    # Slack may not say; the download itself stops at the kind's limit.
    assert outbound_file("f.png", "image/png", 0).refusal is None
