"""Delay: pause a run for a time, until a time, or until a call to its resume URL.

A paused run holds no executor slot and survives a restart: it is parked in the store
(``waiting``) and resumed when due (see ``engine/delays.py``).
"""

from __future__ import annotations

from connectors.delay import actions
from connectors.delay.schemas import (
    DelayForInput,
    DelayOutput,
    DelayUntilInput,
    WaitForCallInput,
    WaitForCallOutput,
)
from connectors.sdk import Action, App, load_sample

APP_KEY = "delay"
DELAYS = ("delay_for", "delay_until")
WAIT_FOR_CALL = "wait_for_call"

delay_for = Action(
    key="delay_for",
    name="Delay for",
    description="Pauses the run for a duration (seconds, minutes, hours or days), then goes on"
    " with the next cell. The run holds no worker while it waits and survives a restart.",
    input=DelayForInput,
    output=DelayOutput,
    sample=load_sample(__file__, "delay_for"),
    example={"amount": 15, "unit": "minutes"},
    perform=actions.delay_for,
)

delay_until = Action(
    key="delay_until",
    name="Delay until",
    description="Pauses the run until a date and time (mapped from earlier cells); a time in"
    " the past goes on at once.",
    input=DelayUntilInput,
    output=DelayOutput,
    sample=load_sample(__file__, "delay_until"),
    example={"until": "{{ trigger.body.send_at }}", "timezone": "Europe/Paris"},
    perform=actions.delay_until,
)

wait_for_call = Action(
    key="wait_for_call",
    name="Wait for a call",
    description="Pauses the run until an HTTP request arrives at the run's resume URL"
    " ({{ execution.resume_url }}: send it in an earlier cell, e.g. an approval e-mail), or"
    " until the timeout. Its output is the call's method, headers, query and body.",
    input=WaitForCallInput,
    output=WaitForCallOutput,
    sample=load_sample(__file__, "wait_for_call"),
    example={"timeout": 2, "timeout_unit": "days", "on_timeout": "continue"},
    perform=actions.wait_for_call,
)

app = App(
    key=APP_KEY,
    name="Delay",
    description="Pause a run for a time, until a time, or until someone calls its resume URL"
    " (approvals).",
    category="Built-in",
    icon="delay",
    actions=(delay_for, delay_until, wait_for_call),
    builtin=True,
)
