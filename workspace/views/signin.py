"""The sign-in page: plain HTML served by FastAPI (no Panel session before sign-in)."""

from __future__ import annotations

from html import escape

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; \
background: #f3f4f6; color: #111827; }
main { max-width: 400px; margin: 10vh auto; background: #fff; border: 1px solid #d1d5db; \
border-radius: 8px; padding: 32px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; }
p.lead { margin: 0 0 24px; color: #374151; }
label { display: block; font-weight: 600; margin: 16px 0 4px; }
input { width: 100%; padding: 10px 12px; font-size: 1rem; border: 1px solid #6b7280; \
border-radius: 6px; }
input:focus, button:focus { outline: 3px solid #1d4ed8; outline-offset: 2px; }
button { margin-top: 24px; width: 100%; padding: 10px 12px; font-size: 1rem; font-weight: 600; \
color: #fff; background: #1d4ed8; border: 0; border-radius: 6px; cursor: pointer; }
button:hover { background: #1e40af; }
.error { background: #fef2f2; border: 1px solid #b91c1c; color: #7f1d1d; padding: 10px 12px; \
border-radius: 6px; }
.notice { background: #eff6ff; border: 1px solid #1d4ed8; color: #1e3a8a; padding: 10px 12px; \
border-radius: 6px; }
.help { font-size: .875rem; color: #374151; margin-top: 24px; }
"""


ASK_ADMIN = "No account yet? Ask your Cellwright administrator to add you (Settings → Users)."


def login_page(
    *,
    next: str = "/",
    email: str = "",
    error: str | None = None,
    notice: str | None = None,
    help: str = ASK_ADMIN,
) -> str:
    """The sign-in form; ``error`` is shown above it (and announced by screen readers);
    ``help`` (HTML) says where a first password comes from on this install."""
    message = ""
    if error:
        message = f'<p class="error" role="alert" id="login-error">{escape(error)}</p>'
    elif notice:
        message = f'<p class="notice" role="status">{escape(notice)}</p>'
    described = ' aria-describedby="login-error"' if error else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Cellwright</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>{_CSS}</style>
</head>
<body>
<main>
<h1>Sign in to Cellwright</h1>
<p class="lead">Build integrations cell by cell.</p>
{message}
<form method="post" action="/login">
<input type="hidden" name="next" value="{escape(next)}">
<label for="email">E-mail address</label>
<input id="email" name="email" type="email" autocomplete="username" required \
value="{escape(email)}"{described} {"" if email else "autofocus"}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" \
required{described} {"autofocus" if email else ""}>
<button type="submit">Sign in</button>
</form>
<p class="help">{help}</p>
</main>
</body>
</html>"""
