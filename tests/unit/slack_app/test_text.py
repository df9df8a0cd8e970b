"""Text between Slack and WhatsApp: texts written exactly as Slack's Events API delivers them."""

from __future__ import annotations

import pytest

from slack_app.text import slack_to_whatsapp, unicode_emoji, whatsapp_to_slack


class FakeUserNames:
    """Names for a few ids; records every lookup."""

    def __init__(self, names: dict[str, str] | None = None) -> None:
        self.names = names if names is not None else {"U024BE7LH": "Bob Ross", "W0ENT": "Ada"}
        self.looked_up: list[str] = []

    async def display_name(self, user_id: str) -> str | None:
        self.looked_up.append(user_id)
        return self.names.get(user_id)


async def _to_whatsapp(text: str) -> str:
    return await slack_to_whatsapp(text, users=FakeUserNames())


@pytest.mark.parametrize(
    ("slack", "whatsapp"),
    [
        # Escaping and links
        (
            "Thanks &amp; see <https://example.com/orders/42|your order> :+1:",
            "Thanks & see your order (https://example.com/orders/42) 👍",
        ),
        ("&lt;not a tag&gt;", "<not a tag>"),
        ("a typed &amp;lt; stays", "a typed &lt; stays"),
        ("<https://example.com/a?x=1&amp;y=2>", "https://example.com/a?x=1&y=2"),
        ("<http://example.com|example.com>", "example.com"),
        ("see <https://example.com/|https://example.com>", "see https://example.com"),
        ("<mailto:bob@example.com|bob@example.com>", "bob@example.com"),
        ("write to <mailto:bob@example.com|Bob>", "write to Bob (bob@example.com)"),
        ("<tel:+4915112345678|+4915112345678>", "+4915112345678"),
        # Mentions and channels
        ("<@U024BE7LH> will call you", "@Bob Ross will call you"),
        ("ask <@W0ENT>", "ask @Ada"),
        ("<@U0NOBODY> will call", "@U0NOBODY will call"),
        ("<@U024BE7LH|bob> will call", "@bob will call"),
        ("<#C123|support>", "#support"),
        ("see <#C123> and <#C456|>", "see #channel and #channel"),
        # Broadcasts are dropped, and the space they leave with them
        ("<!here> ping", "ping"),
        ("Hi <!channel> there", "Hi there"),
        ("Hi <!here|here>, <!everyone> all", "Hi, all"),
        ("done <!here>\n<!channel> next line", "done\nnext line"),
        ("<!subteam^S123|@team> please check", "@team please check"),
        ("<!date^1392734382^{date}|Feb 18, 2014> works", "Feb 18, 2014 works"),
        ("odd <!something> token", "odd token"),
        # Emoji
        (":wave::skin-tone-3: hi", "👋\U0001f3fc hi"),
        (":+1::skin-tone-6: :thumbsup: :smile:", "👍\U0001f3ff 👍 😄"),
        (":simple_smile: :white_check_mark: :tada: :pray: :100:", "🙂 ✅ 🎉 🙏 💯"),
        (":heart:", "❤️"),
        (":man-shrugging::skin-tone-2:", "🤷\U0001f3fb\u200d♂️"),
        (":flag-de:", "🇩🇪"),
        (":partyparrot:", ":partyparrot:"),
        (":partyparrot::skin-tone-2:", ":partyparrot::skin-tone-2:"),
        ("Meet at 10:30:45", "Meet at 10:30:45"),
        ("ratio 3:100:2", "ratio 3:100:2"),
        ("<https://example.com/a:smile:b>", "https://example.com/a:smile:b"),
        # Formatting
        ("*Bold* _it_ ~s~ `code`", "*Bold* _it_ ~s~ `code`"),
        ("```SELECT * FROM t;```", "```SELECT * FROM t;```"),
        ("```if a &lt; b &amp;&amp; :smile:\n  • x```", "```if a < b && :smile:\n  • x```"),
        ("`:smile: &gt; <https://example.com>`", "`:smile: > https://example.com`"),
        ("`<!here>` pings everyone", "`@here` pings everyone"),
        ("• one\n• two", "- one\n- two"),
        ("• one\n    ◦ nested\n        ▪\ufe0e deeper", "- one\n    - nested\n        - deeper"),
        ("a • b", "a • b"),
        ("&gt; quoted\nanswer", "> quoted\nanswer"),
        ("  spaced out \n", "spaced out"),
        ("line one\n\n\nline two", "line one\n\n\nline two"),
    ],
)
async def test_slack_to_whatsapp(slack: str, whatsapp: str) -> None:
    assert await _to_whatsapp(slack) == whatsapp


async def test_each_mentioned_user_is_looked_up_once() -> None:
    users = FakeUserNames()
    text = "<@U024BE7LH> and <@U0NOBODY>, <@U024BE7LH> again, and <@U024BE7LH|bob>"
    converted = await slack_to_whatsapp(text, users=users)
    assert converted == "@Bob Ross and @U0NOBODY, @Bob Ross again, and @bob"
    assert sorted(users.looked_up) == ["U024BE7LH", "U0NOBODY"]


async def test_no_mention_no_lookup() -> None:
    users = FakeUserNames()
    await slack_to_whatsapp("<@U1|named> <#C1> :smile:", users=users)
    assert users.looked_up == []


async def test_a_long_text_is_converted_whole() -> None:
    line = "Thanks &amp; see <https://example.com|the site> :+1:\n"
    text = line * (6000 // len(line) + 1)
    assert len(text) > 6000
    converted = await _to_whatsapp(text)
    expected = "Thanks & see the site (https://example.com) 👍\n"
    assert converted == (expected * (6000 // len(line) + 1)).strip()


@pytest.mark.parametrize(
    ("whatsapp", "slack"),
    [
        ("Hello <b> <!channel>", "Hello &lt;b&gt; &lt;!channel&gt;"),
        ("<@U024BE7LH> <#C123> <https://evil.example|bank>", None),
        ("Fish & chips", "Fish &amp; chips"),
        ("already &amp; escaped", "already &amp;amp; escaped"),
        ("*bold* _it_ ~s~", "*bold* _it_ ~s~"),
        ("```print(a < b)```", "`print(a &lt; b)`"),
        ("```line 1\nline 2 <x>```", "```line 1\nline 2 &lt;x&gt;```"),
        ("inline `a > b` code", "inline `a &gt; b` code"),
        ("> quoted <@U1>\nmy answer", "> quoted &lt;@U1&gt;\nmy answer"),
        ("2 > 1 and >_<", "2 &gt; 1 and &gt;_&lt;"),
        (">_< not a quote", "&gt;_&lt; not a quote"),
        ("- one\n- two", "- one\n- two"),
        ("* one\n* two *bold*", "• one\n• two *bold*"),
        ("1. first\n2. second", "1. first\n2. second"),
        ("👍🏽 thanks", "👍🏽 thanks"),
    ],
)
def test_whatsapp_to_slack(whatsapp: str, slack: str | None) -> None:
    converted = whatsapp_to_slack(whatsapp)
    if slack is not None:
        assert converted == slack
    # Whatever the customer typed, nothing in it can open a mention or a link.
    assert "<" not in converted


def test_a_long_customer_text_is_escaped_whole() -> None:
    text = "Is <this> & that ok?\n" * 300
    assert len(text) > 6000
    assert whatsapp_to_slack(text) == "Is &lt;this&gt; &amp; that ok?\n" * 300


async def test_a_customer_text_comes_back_the_same() -> None:
    text = "Fish & chips <3 > 2\n> a quote\n*bold* and `code`"
    assert await _to_whatsapp(whatsapp_to_slack(text)) == text


@pytest.mark.parametrize(
    ("name", "glyph"),
    [
        ("thumbsup", "\N{THUMBS UP SIGN}"),
        ("+1", "\N{THUMBS UP SIGN}"),
        ("pray", "\N{PERSON WITH FOLDED HANDS}"),
        ("heart", "\N{HEAVY BLACK HEART}\ufe0f"),
        (":white_check_mark:", "\N{WHITE HEAVY CHECK MARK}"),
        # Skin tones 2 to 6 are the five Fitzpatrick modifiers.
        ("+1::skin-tone-2", "\N{THUMBS UP SIGN}\N{EMOJI MODIFIER FITZPATRICK TYPE-1-2}"),
        ("thumbsup::skin-tone-3", "\N{THUMBS UP SIGN}\N{EMOJI MODIFIER FITZPATRICK TYPE-3}"),
        ("wave::skin-tone-6", "\N{WAVING HAND SIGN}\N{EMOJI MODIFIER FITZPATRICK TYPE-6}"),
        # The modifier takes the place of the presentation selector: "✌️🏼" is no emoji.
        ("v::skin-tone-3", "\N{VICTORY HAND}\N{EMOJI MODIFIER FITZPATRICK TYPE-3}"),
        # ... and goes on the person, inside a joined sequence.
        (
            "man-shrugging::skin-tone-2",
            "\N{SHRUG}\N{EMOJI MODIFIER FITZPATRICK TYPE-1-2}\u200d\N{MALE SIGN}\ufe0f",
        ),
        # An emoji that takes no tone keeps none; an unknown tone is dropped.
        ("eyes::skin-tone-3", "\N{EYES}"),
        ("thumbsup::skin-tone-9", "\N{THUMBS UP SIGN}"),
        # Slack's own names, and its hyphens where the emoji set has underscores.
        ("simple_smile", "\N{SLIGHTLY SMILING FACE}"),
        ("face_palm", "\N{FACE PALM}"),
        ("man-shrugging", "\N{SHRUG}\u200d\N{MALE SIGN}\ufe0f"),
        # Country flags by ISO code.
        ("flag-de", "\N{REGIONAL INDICATOR SYMBOL LETTER D}\N{REGIONAL INDICATOR SYMBOL LETTER E}"),
        ("flag-br", "\N{REGIONAL INDICATOR SYMBOL LETTER B}\N{REGIONAL INDICATOR SYMBOL LETTER R}"),
    ],
)
def test_a_reaction_name_as_the_emoji_the_customer_sees(name: str, glyph: str) -> None:
    assert unicode_emoji(name) == glyph


@pytest.mark.parametrize("name", ["partyparrot", "our-logo", "flag-zz", "flag-deu", "", "::"])
def test_a_name_only_slack_knows_has_no_emoji(name: str) -> None:
    assert unicode_emoji(name) is None
