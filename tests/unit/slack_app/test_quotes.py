"""What an agent's reply points at, in texts written exactly as Slack's Events API delivers
them: links wrapped in ``<…>`` with ``&amp;`` inside, quotes as ``&gt;`` at a line's start."""

from __future__ import annotations

import pytest

from slack_app.quotes import Pointer, find_pointer

CHANNEL = "C0SUPPORT"
LINK = f"https://acme.slack.com/archives/{CHANNEL}/p1700000000123456"


@pytest.mark.parametrize(
    ("text", "rest"),
    [
        (f"<{LINK}> It left this morning", "It left this morning"),
        (f"<{LINK}|your message> It left this morning", "It left this morning"),
        # "Copy link" on a reply inside a thread adds the thread and channel.
        (
            f"<{LINK}?thread_ts=1699999999.000100&amp;cid={CHANNEL}> It left this morning",
            "It left this morning",
        ),
        (f"It left this morning <{LINK}>", "It left this morning"),
        (f"It left  <{LINK}>  this morning", "It left this morning"),
        (f"<{LINK}>\nIt left this morning", "It left this morning"),
    ],
)
def test_a_link_to_a_post_of_the_channel_points_at_that_post(text: str, rest: str) -> None:
    assert find_pointer(text, channel=CHANNEL) == Pointer(slack_ts="1700000000.123456", rest=rest)


def test_a_link_alone_points_and_leaves_nothing_to_say() -> None:
    assert find_pointer(f"<{LINK}>", channel=CHANNEL) == Pointer(slack_ts="1700000000.123456")


def test_the_first_link_into_the_channel_wins() -> None:
    other = f"https://acme.slack.com/archives/{CHANNEL}/p1700000999000001"
    pointer = find_pointer(f"<{LINK}> and <{other}>", channel=CHANNEL)
    assert pointer is not None and pointer.slack_ts == "1700000000.123456"
    assert pointer.rest == f"and <{other}>"


@pytest.mark.parametrize(
    "text",
    [
        # Another channel's post cannot be a message of this conversation.
        "<https://acme.slack.com/archives/C0ELSEWHERE/p1700000000123456> It left",
        # Not a message link: too few digits, a file, a channel.
        f"<https://acme.slack.com/archives/{CHANNEL}/p170000000012345> It left",
        "<https://acme.slack.com/files/U1/F1/box.png> It left",
        f"<https://acme.slack.com/archives/{CHANNEL}> It left",
        # A link typed as text is no link Slack made.
        f"{LINK} It left",
    ],
)
def test_links_that_are_not_to_a_post_of_the_channel_point_at_nothing(text: str) -> None:
    assert find_pointer(text, channel=CHANNEL) is None


def test_a_link_elsewhere_does_not_hide_a_quote() -> None:
    text = "&gt; my parcel is late\nSee <https://acme.slack.com/archives/C0ELSEWHERE/p1700000000123456>"
    pointer = find_pointer(text, channel=CHANNEL)
    assert pointer == Pointer(
        quoted="my parcel is late",
        rest="See <https://acme.slack.com/archives/C0ELSEWHERE/p1700000000123456>",
    )


@pytest.mark.parametrize(
    ("text", "quoted", "rest"),
    [
        (
            "&gt; my parcel is late\nSorry! It left today",
            "my parcel is late",
            "Sorry! It left today",
        ),
        ("&gt;my parcel is late\nSorry!", "my parcel is late", "Sorry!"),
        (
            "&gt; my parcel\n&gt; is late\n\nSorry! It left today",
            "my parcel\nis late",
            "Sorry! It left today",
        ),
        (
            "&gt; is it &amp; the box?\nYes\nand the label",
            "is it &amp; the box?",
            "Yes\nand the label",
        ),
    ],
)
def test_a_quote_on_the_first_lines_points_at_the_words_quoted(
    text: str, quoted: str, rest: str
) -> None:
    # The quote stays in Slack's encoding: the listener converts it as it converts a reply.
    assert find_pointer(text, channel=CHANNEL) == Pointer(quoted=quoted, rest=rest)


@pytest.mark.parametrize(
    "text",
    [
        "Sorry! It left today",
        "",
        # Only a quote: the quote is the message.
        "&gt; my parcel is late",
        "&gt; my parcel\n&gt; is late\n",
        # A quote further down is part of what the agent says.
        "Sorry!\n&gt; my parcel is late",
        # A ">" typed inside a line is no quote.
        "2 &gt; 1\nyes",
    ],
)
def test_nothing_to_point_at(text: str) -> None:
    assert find_pointer(text, channel=CHANNEL) is None
