"""The chat assistant (optional extra ``assistant``): drafts scenarios from plain language.

``draft(prompt, registry=..., settings=...)`` asks the configured model (litellm) for a
scenario document, checks it and lets the model repair it once. Importing this package
never imports litellm; the first draft does.
"""

from assistant.catalog import catalog
from assistant.drafts import Draft, check, draft, split_answer
from assistant.model import installed, unavailable_reason

__all__ = ["Draft", "catalog", "check", "draft", "installed", "split_answer", "unavailable_reason"]
