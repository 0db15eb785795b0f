"""AI: generate text, extract fields, classify and summarize with any model litellm
can call — a provider's API or a local server (Ollama, vLLM, LM Studio, llama.cpp)."""

from __future__ import annotations

from connectors.ai import actions
from connectors.ai.auth import MODEL_AUTH, SANDBOX_CREDENTIALS
from connectors.ai.llm import FIELDS_HINT
from connectors.ai.schemas import (
    ClassifyInput,
    ClassifyOutput,
    ExtractInput,
    ExtractOutput,
    GenerateInput,
    GenerateOutput,
    SummarizeInput,
    SummarizeOutput,
)
from connectors.sdk import ActionFactory, App

action = ActionFactory(__file__)

SUPPORT_MESSAGE = (
    "Hello, I was charged twice for order 1042. Please refund the second charge. "
    "Email: ada@example.com"
)

generate_text = action(
    "generate_text",
    "Generate text",
    "Asks the model for a text: a reply, a draft, a translation. Optional system instructions, "
    "temperature and a limit in tokens. Returns the text, the model and the tokens used.",
    GenerateInput,
    GenerateOutput,
    actions.generate_text,
    {"prompt": "Write a one-sentence thank-you note for a first order.", "max_tokens": 60},
)
extract = action(
    "extract",
    "Extract fields",
    "Pulls the fields you list (name, type, description, required) — or a JSON Schema — out "
    "of a text. The answer is validated; a wrong one is sent back once with what was wrong, "
    "then the step fails with the validation messages.",
    ExtractInput,
    ExtractOutput,
    actions.extract,
    {
        "text": SUPPORT_MESSAGE,
        "fields": [
            {
                "name": "customer_email",
                "type": "string",
                "description": "The sender's e-mail address.",
            },
            {
                "name": "order_id",
                "type": "string",
                "description": "The order number.",
                "required": False,
            },
        ],
    },
)
classify = action(
    "classify",
    "Classify",
    "Puts a text into one of your labels (with optional descriptions of each). The answer "
    "is always one of the labels: another answer is sent back once, then the step fails.",
    ClassifyInput,
    ClassifyOutput,
    actions.classify,
    {
        "text": SUPPORT_MESSAGE,
        "labels": ["billing", "bug", "account", "other"],
        "descriptions": {"billing": "charges, invoices, refunds"},
    },
)
summarize = action(
    "summarize",
    "Summarize",
    "Summarizes a text within a number of words, as a paragraph, bullet points or one line, "
    "optionally keeping what you name.",
    SummarizeInput,
    SummarizeOutput,
    actions.summarize,
    {"text": SUPPORT_MESSAGE, "max_words": 30},
)

app = App(
    key="ai",
    name="AI model",
    description="Generate text, extract fields into your schema, classify into your labels and "
    "summarize, with any model litellm supports: OpenAI, Anthropic, Gemini, Mistral… or a local "
    "one (Ollama, vLLM, LM Studio). Every step records the tokens it used.",
    category="Built-in",
    icon="ai",
    auth=MODEL_AUTH,
    actions=(generate_text, extract, classify, summarize),
    builtin=True,
    docs_url="https://docs.litellm.ai/docs/providers",
    sandbox="connectors.ai.sandbox:create_app",
    sandbox_credentials=SANDBOX_CREDENTIALS,
    connection_help=f"To connect a model, {FIELDS_HINT}; or create a sandbox connection "
    "to try it offline.",
)
