"""Alert targets: the log always, a webhook (JSON POST) and Slack (dagster-slack) if configured."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Alert:
    kind: str  # "check_failed" | "run_failed"
    title: str
    text: str
    fields: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def as_slack_text(self) -> str:
        details = "\n".join(f"• *{k}*: {v}" for k, v in self.fields.items())
        return f":rotating_light: *{self.title}*\n{self.text}\n{details}".strip()


class AlertTarget(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


@dataclass
class LogTarget:
    logger: Any
    name: str = "log"

    def send(self, alert: Alert) -> None:
        self.logger.error(f"ALERT {alert.title}: {alert.text} {alert.fields}")


@dataclass
class WebhookTarget:
    url: str
    timeout_s: float = 10.0
    name: str = "webhook"

    def send(self, alert: Alert) -> None:
        import requests

        response = requests.post(self.url, json=alert.as_json(), timeout=self.timeout_s)
        response.raise_for_status()


@dataclass
class SlackTarget:
    channel: str
    token: str
    name: str = "slack"

    def send(self, alert: Alert) -> None:
        from dagster_slack import SlackResource

        SlackResource(token=self.token).get_client().chat_postMessage(
            channel=self.channel, text=alert.as_slack_text()
        )


def targets_for(
    webhook_url: str | None, slack_channel: str | None, slack_token: str | None
) -> list[AlertTarget]:
    targets: list[AlertTarget] = []
    if webhook_url:
        targets.append(WebhookTarget(webhook_url))
    if slack_channel and slack_token:
        targets.append(SlackTarget(slack_channel, slack_token))
    return targets


def deliver(alert: Alert, targets: list[AlertTarget], log: Any | None = None) -> list[str]:
    """Send to the log and every target; a failing target is logged, never raised, so one
    broken webhook cannot stop the others (or the sensor's cursor) from moving on."""
    log = log or logging.getLogger("orderbook.alerts")
    reached = []
    for target in [LogTarget(log), *targets]:
        try:
            target.send(alert)
            reached.append(target.name)
        except Exception as exc:
            log.warning(f"alert target {target.name} failed: {exc}")
    return reached
