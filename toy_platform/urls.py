"""URLs: http(s) URLs checked as the OpenAPI documents say, and URLs that may hold a
password (a store's, a broker's) shown without it."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

_PCT = "%[0-9A-Fa-f]{2}"
_PCHAR = f"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|{_PCT})"
HTTP_URL_PATTERN = (
    "^[hH][tT][tT][pP][sS]?://"
    f"(?:(?:[A-Za-z0-9._~!$&'()*+,;=:-]|{_PCT})*@)?"  # user info
    f"(?:\\[[0-9A-Fa-f:.]+\\]|(?:[A-Za-z0-9._~!$&'()*+,;=-]|{_PCT})+)"  # host
    "(?::[0-9]*)?"  # port
    f"(?:/{_PCHAR}*)*"  # path
    f"(?:\\?(?:{_PCHAR}|[/?])*)?"  # query
    f"(?:#(?:{_PCHAR}|[/?])*)?$"  # fragment
)
"""An absolute http(s) URL with a host, in the characters RFC 3986 allows (no spaces,
no raw non-ASCII): the pattern of callback_url in core's document."""
_HTTP_URL = re.compile(HTTP_URL_PATTERN.removesuffix("$"))


def is_http_url(text: str) -> bool:
    """True when TEXT matches HTTP_URL_PATTERN (and an IP literal host is an IPv6 address)."""
    if not _HTTP_URL.fullmatch(text):
        return False
    host = text.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = host.rsplit("@", 1)[-1]
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1 : host.index("]")])
        except ValueError:
            return False
    return True


def mask_url(url: str) -> str:
    """URL with its password (in the authority or a password= parameter) shown as ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<a URL that cannot be parsed>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:***@{hostport}" if colon else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        masked = [(k, "***" if k.lower() == "password" else v) for k, v in pairs]
        query = urlencode(masked, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_password(url: str) -> str:
    """The password URL carries (in the authority or a password= parameter), or ''."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.password:
        return unquote(parts.password)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() == "password":
            return value
    return ""


def without_password(text: str, url: str) -> str:
    """TEXT (a driver's error message, say) with URL's password replaced by ***."""
    password = url_password(url)
    return text.replace(password, "***") if password else text
