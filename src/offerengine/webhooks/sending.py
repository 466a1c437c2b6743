"""One delivery attempt over HTTP, to an address that was checked.

The host is resolved here, every address it resolves to is checked (:func:`core.address_refusal`)
and the request goes to one of those addresses, named in the URL, with the host in ``Host`` and,
for https, in the TLS server name (so the certificate is still checked against the host). No
second resolution happens between the check and the connection, so a name that changes its answer
(DNS rebinding) cannot slip a private address in. No proxy from the environment is used (it
would connect elsewhere), redirects are not followed (a redirect is a failed attempt), keep-alive
connections are not reused (a pooled TLS connection was checked for another host), and the
response's body is never read. An https receiver's certificate is always checked, against the
host the URL names: by default against certifi's authorities, or against the deployment's own
bundle (``OFFERENGINE_WEBHOOK_CA_BUNDLE``) for receivers behind a private CA; there is no way
to turn the check off.

The client is httpx2, the HTTP client the project tests with (Starlette's test client takes it
too): async, with per-request TLS server names (``sni_hostname``), and maintained.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import httpx2 as httpx

from offerengine import __version__
from offerengine.webhooks import core

# Resolves a host and port to the addresses to connect to, in the order to try them.
Resolver = Callable[[str, int], Awaitable[list[core.IPAddress]]]


async def resolve(host: str, port: int) -> list[core.IPAddress]:
    """The addresses ``host`` resolves to, in the system resolver's order."""
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[core.IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in found:
        address = core.literal_address(str(sockaddr[0]).partition("%")[0])
        if address is not None and address not in addresses:
            addresses.append(address)
    return addresses


class Refused(Exception):
    """The destination may not be called (its reason is the message)."""


class Sender:
    """POSTs signed bodies for the deliverer, each bounded by ``timeout`` from resolution to the
    answer's status line."""

    def __init__(
        self,
        *,
        timeout: float,
        allow_private: bool,
        resolver: Resolver = resolve,
        ca_bundle: Path | None = None,
    ) -> None:
        self._timeout = timeout
        self._allow_private = allow_private
        self._resolve = resolver
        verify: ssl.SSLContext | bool = True  # certifi's authorities
        if ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(ca_bundle))
        self._client = httpx.AsyncClient(
            timeout=timeout,
            verify=verify,
            trust_env=False,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> core.Outcome:
        """POST ``body`` to ``url``: what the attempt came to (never raises for the network)."""
        started = time.monotonic()

        def spent() -> int:
            return int((time.monotonic() - started) * 1000)

        found = core.target(url)
        if isinstance(found, str):
            return core.Outcome(spent(), error=f"refused: not {found}", refused=True)
        tried: list[str] = []  # the addresses connected to, in order
        try:
            async with asyncio.timeout(self._timeout):
                addresses = await self._vetted(found)
                status = await self._post_first(found, addresses, body, headers, tried)
            return core.Outcome(spent(), status_code=status, address=tried[-1])
        except Refused as exc:
            return core.Outcome(spent(), error=f"refused: {exc}", refused=True)
        except TimeoutError:
            return core.Outcome(spent(), error="timed out", address=_last(tried))
        except (httpx.HTTPError, OSError) as exc:
            error = str(exc) or type(exc).__name__
            return core.Outcome(spent(), error=error, address=_last(tried))

    async def _vetted(self, found: core.Target) -> list[core.IPAddress]:
        """Every address the host resolves to, checked; refused if any one may not be called."""
        literal = core.literal_address(found.host)
        try:
            addresses = (
                [literal] if literal is not None else await self._resolve(found.host, found.port)
            )
        except socket.gaierror as exc:
            raise OSError(f"cannot resolve {found.host}: {exc.strerror or exc}") from exc
        if not addresses:
            raise OSError(f"{found.host} resolves to no address")
        for address in addresses:
            refusal = core.address_refusal(address, allow_private=self._allow_private)
            if refusal is not None:
                raise Refused(f"{found.host}: {refusal}")
        return addresses

    async def _post_first(
        self,
        found: core.Target,
        addresses: list[core.IPAddress],
        body: bytes,
        headers: Mapping[str, str],
        tried: list[str],
    ) -> int:
        """The status of the POST to the first of ``addresses`` that takes a connection."""
        for address in addresses[:-1]:
            tried.append(str(address))
            try:
                return await self._post_to(found, address, body, headers)
            except httpx.ConnectError:
                continue  # the next address the host has
        tried.append(str(addresses[-1]))
        return await self._post_to(found, addresses[-1], body, headers)

    async def _post_to(
        self,
        found: core.Target,
        address: core.IPAddress,
        body: bytes,
        headers: Mapping[str, str],
    ) -> int:
        extensions = {}
        if found.scheme == "https" and core.literal_address(found.host) is None:
            extensions["sni_hostname"] = found.host
        request = self._client.build_request(
            "POST",
            found.url_at(address),
            content=body,
            headers={
                **headers,
                "Host": found.host_header,
                "Content-Type": "application/json",
                "User-Agent": f"OfferEngine-Webhooks/{__version__}",
            },
            extensions=extensions,
        )
        response = await self._client.send(request, stream=True)
        await response.aclose()
        return response.status_code

    async def close(self) -> None:
        await self._client.aclose()


def _last(tried: list[str]) -> str | None:
    return tried[-1] if tried else None
