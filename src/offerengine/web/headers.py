"""The security headers of the admin app's responses: a Content-Security-Policy on the admin
UI's pages, frame protection on everything the admin app serves, and Strict-Transport-Security
when the request came over HTTPS (itself, or by a trusted proxy's word:
:mod:`offerengine.forwarded`). ``X-Content-Type-Options`` and ``Referrer-Policy`` go on every
response, run time's included, from :mod:`offerengine.http.middleware`.

The policy is what the UI needs and no more. Scripts come only from /admin/static: the pages
have no inline script or event handler (``<script type="application/json">`` blocks are data,
which CSP does not run). Styles: the vendored JSON editor sets ``style`` attributes and fills
an empty ``<style>`` element through the CSSOM, so style attributes are allowed and inline
style elements only when empty (the hash of ""); browsers that predate ``style-src-elem`` and
``style-src-attr`` fall back on ``style-src``, which then allows inline styles. Pure ASGI,
a constant tuple of headers per response: no per-request work beyond the HTTPS test.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offerengine.forwarded import TrustedProxies

ADMIN_UI = "/admin"
_EMPTY_STYLE = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"  # sha256 of ""
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        f"style-src-elem 'self' {_EMPTY_STYLE}",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
_FRAMES = ((b"x-frame-options", b"DENY"),)
_PAGES = (*_FRAMES, (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
_HSTS = ((b"strict-transport-security", b"max-age=31536000"),)


class SecurityHeaders:
    """Adds the admin app's security headers to each of its responses."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = _PAGES if scope["path"].startswith(ADMIN_UI) else _FRAMES
        if self.proxies.is_https(scope):
            added = (*added, *_HSTS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)
