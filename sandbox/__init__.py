"""Local simulators of the Meta Graph API and the Slack Web API, served over loopback HTTP.

Used by `wabridge demo`, the end-to-end tests and the benchmarks; imports nothing of ours.
"""

from sandbox.meta_sim import GraphCall, MetaSimulator
from sandbox.server import ServerThread, free_port, release_port
from sandbox.slack_sim import ApiCall, DeliveredEvent, SimMessage, SlackError, SlackSimulator

__all__ = [
    "ApiCall",
    "DeliveredEvent",
    "GraphCall",
    "MetaSimulator",
    "ServerThread",
    "SimMessage",
    "SlackError",
    "SlackSimulator",
    "free_port",
    "release_port",
]
