"""The Slack side: the bolt app with every listener, its Web API client, and the surface the
workers post through.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

from bridge.pacing import Rate
from bridge.ports import (
    CallObserver,
    Clock,
    Holds,
    Unobserved,
)
from bridge.usecases.reactions import AgentReactions
from bridge.usecases.replies import Replies, ReplyChanges
from bridge.usecases.resends import Resends
from bridge.usecases.status import StatusReports
from bridge.usecases.templates import TemplateMessages, TemplatePicker, Templates
from slack_app.http import AUTHORIZE_FAILED, SlackEndpoint
from slack_app.listeners import Activity, ListenerDeps, register_all
from slack_app.observed import ObservedWebClient
from slack_app.pacing import SlackPacing, SlackRates, tier_rates
from slack_app.socket import SocketMode
from slack_app.surface import SlackSurface
from slack_app.users import SlackUserNames
from wabridge.settings import Settings


def slack_rates(settings: Settings) -> SlackRates:
    """Posts per channel, and each of Slack's four tiers (settings in calls a second)."""
    return SlackRates(
        post=Rate(per_second=settings.slack_post_rate, burst=settings.slack_post_burst),
        tiers=tier_rates([rate * 60 for rate in settings.slack_tier_rates]),
    )


@dataclass(frozen=True, kw_only=True)
class Slack:
    app: AsyncApp
    #: The Web API client of the app and the surface (closed when the process stops).
    client: ObservedWebClient
    surface: SlackSurface
    #: Slack's HTTP requests; None in Socket Mode without a signing secret.
    endpoint: SlackEndpoint | None
    activity: Activity
    #: Socket Mode, when SLACK_APP_TOKEN is set.
    socket: SocketMode | None = None


class _BotTokenInEnvironment(logging.Filter):
    """Drops bolt's warning that the token is unused: bolt reads ``SLACK_BOT_TOKEN`` from the
    environment whenever it is set (as the contract names it), and we give it the client,
    which holds the token, on purpose. It said so at every start of every process."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_BOT_TOKEN_IN_ENVIRONMENT: Final = _BotTokenInEnvironment()


def build_slack(
    settings: Settings,
    *,
    replies: Replies,
    changes: ReplyChanges,
    clock: Clock,
    status: StatusReports,
    templates: Templates | None = None,
    template_messages: TemplateMessages | None = None,
    template_picker: TemplatePicker | None = None,
    reactions: AgentReactions | None = None,
    resends: Resends | None = None,
    calls: CallObserver | None = None,
    holds: Holds | None = None,
) -> Slack:
    """The bolt app with every listener, and the surface the workers post through.

    Both share bolt's client: one Slack Web API client per process, reporting its calls.
    """
    signing_secret = settings.slack_signing_secret
    logger = logging.getLogger("slack_app.bolt")
    logger.addFilter(_BOT_TOKEN_IN_ENVIRONMENT)  # once: the same filter is not added twice
    client = ObservedWebClient(
        calls=calls or Unobserved(),
        token=settings.slack_bot_token.get_secret_value(),
        # The API root is ours to choose (the simulator), not necessarily slack.com.
        base_url=settings.slack_api_url_normalized,
        # Well below a job's lease, so a slow call never outlives its claim.
        timeout=10,
        logger=logger,
    )
    app = AsyncApp(
        client=client,
        # Optional in Socket Mode: the connection itself is authenticated.
        signing_secret=signing_secret.get_secret_value() if signing_secret else "",
        logger=logger,
        # Answered 503 by our endpoint, not bolt's 200 that drops the request: Slack retries.
        user_facing_authorize_error_message=AUTHORIZE_FAILED,
    )
    activity = Activity()
    register_all(
        app,
        ListenerDeps(
            replies=replies,
            changes=changes,
            users=SlackUserNames(app.client),
            note_prefix=settings.note_prefix,
            status=status,
            templates=templates,
            template_messages=template_messages,
            template_picker=template_picker,
            reactions=reactions,
            resends=resends,
            clock=clock.now,
            activity=activity,
        ),
    )
    surface = SlackSurface(
        client=app.client,
        pacing=SlackPacing(rates=slack_rates(settings), holds=holds),
        now=clock.now,
        template_button=templates is not None,
    )
    app_token = settings.slack_app_token
    return Slack(
        app=app,
        client=client,
        surface=surface,
        endpoint=(
            SlackEndpoint(app, signing_secret=signing_secret.get_secret_value())
            if signing_secret
            else None
        ),
        activity=activity,
        socket=SocketMode(app, app_token.get_secret_value()) if app_token else None,
    )
