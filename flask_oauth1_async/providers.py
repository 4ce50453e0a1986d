"""Ready-made settings for OAuth 1.0a providers people still use, quirks included.

Each preset is a plain dict of :meth:`OAuth.register <flask_oauth1_async.OAuth.register>`
keywords (endpoints, signing options, authorize parameters), or a small
function returning one when the URLs depend on your account or server. None
of them holds a consumer key or secret: those come from the config
(``{NAME}_CLIENT_ID`` / ``{NAME}_CLIENT_SECRET``) or from keywords.

Use :func:`register` so that the app config still wins::

    from flask_oauth1_async import OAuth, providers

    oauth = OAuth(app)
    providers.register(oauth, "trello", providers.TRELLO, authorize_params={"name": "My app"})

The precedence is **preset < your keywords < config**: keywords given to
:func:`register` replace the preset's values (dict settings such as
``authorize_params`` and ``client_kwargs`` are merged key by key, yours on
top), and the remote is registered with ``overwrite=True``, so a non-empty
``{NAME}_*`` config key replaces both (dicts merged, the config's entries on
top). ``oauth.register("trello", **providers.TRELLO)`` works too, but then the
preset's values are ordinary keywords and beat the config for the settings
they set (the config only fills in the rest, such as the credentials); add
``overwrite=True`` to get the config-wins rule there as well.

Resource calls are signed only for a remote's own origins (its
``api_base_url`` and token endpoints) and its ``allowed_origins``; the
presets list the other hosts their providers document for the API (noted
below). A remote registered from a preset with an ``allowed_origins`` of your
own gets yours instead of the preset's: repeat the preset's entries.

The presets and where their facts come from (every URL below is the
provider's documented one; the tests run each preset against a local fake
that behaves as documented, and never contact these hosts):

* :data:`TWITTER` (X): ``api.x.com/oauth/request_token``, ``/oauth/authenticate``
  ("Sign in with X"; use ``/oauth/authorize`` to ask again every time),
  ``/oauth/access_token``; API v2 base. Denial comes back as ``?denied=``;
  the token answer adds ``user_id`` and ``screen_name``. Other origins:
  ``upload.twitter.com`` (v1.1 media upload) and ``api.twitter.com`` (the
  host of the v1.1 documentation). Source: X developer docs, "Obtaining
  access tokens using 3-legged OAuth flow", "Upload media".
* :data:`TRELLO`: ``trello.com/1/OAuthGetRequestToken``, ``OAuthAuthorizeToken``,
  ``OAuthGetAccessToken``; the authorize page reads ``name``, ``scope``
  (``read``, ``write``, ``account``, comma-separated) and ``expiration``
  (``1hour``, ``1day``, ``30days``, ``never``). Source: Atlassian developer
  docs, "Authorizing with Trello's REST API".
* :data:`FLICKR`: ``www.flickr.com/services/oauth/{request_token,authorize,access_token}``;
  HMAC-SHA1 only; ``perms`` (``read``, ``write``, ``delete``) on the authorize
  URL; the REST endpoint is ``services/rest`` with a ``method`` parameter.
  Uploads (``up.flickr.com/services/upload/``) are multipart and need their
  text fields signed: pass ``sign_multipart_fields=True`` to the call.
  Other origins: ``up.flickr.com`` and ``api.flickr.com`` (the REST
  endpoint's other host). Source: flickr.com/services/api/auth.oauth.html,
  flickr.com/services/api/upload.api.html.
* :data:`GARMIN`: ``connectapi.garmin.com/oauth-service/oauth/{request_token,access_token}``
  (POST), ``connect.garmin.com/oauthConfirm``; Wellness API base. Source:
  Garmin Connect Developer Program, "User Authorization (OAuth)". **Garmin
  retires OAuth 1.0a on 2026-12-31.** Its migration notice (October 2025)
  says an app converted to OAuth 2 by Garmin's support exchanges each user's
  OAuth 1 token for an OAuth 2 token: :func:`exchange_garmin_token` makes
  that signed call (``POST apis.garmin.com/partner-gateway/rest/user/token-exchange``).
  Sources: the notice as quoted in public issue trackers
  (github.com/stoufa06/php-garmin-connect-api/issues/23,
  github.com/marazt/garmin-connect-client/issues/11; the quotes cut off the
  endpoint's path, which comes from third-party migration code); we could
  not read Garmin's own migration guide.
* :func:`jira` (Jira / Atlassian **Data Center** and Server; Jira Cloud dropped
  OAuth 1.0a): ``{base}/plugins/servlet/oauth/{request-token,authorize,access-token}``,
  RSA-SHA1 with the private key whose public half you entered in the
  application link; no consumer secret. Source: Atlassian, "Jira REST API
  example - OAuth authentication".
* :func:`etrade`: ``api.etrade.com/oauth/{request_token,access_token}`` (GET;
  sandbox ``apisb.etrade.com``), authorize at
  ``us.etrade.com/e/t/etws/authorize?key=<consumer key>&token=<request token>``.
  E*TRADE wants ``oauth_callback=oob`` always (call ``authorize_redirect()``
  without a URL): it redirects to the callback registered with your consumer
  key, if any, and answers ``oauth_callback_confirmed=false`` when there is
  none, hence ``require_callback_confirmed=False``. Access tokens expire at
  midnight US Eastern and go inactive after two hours without a request;
  :func:`renew_etrade_token` reactivates an inactive one (``GET
  /oauth/renew_access_token`` signed with it); after midnight only a new
  login helps. Source: E*TRADE developer docs, Authorization API ("Get
  Access Token", "Renew Access Token"); we could not read those pages here:
  the midnight rule is quoted from them in github.com/jessecooper/pyetrade/issues/80,
  the renewal call matches pyetrade's own.
* :data:`TUMBLR`: ``www.tumblr.com/oauth/{request_token,authorize,access_token}``,
  HMAC-SHA1 in the header only; API base ``api.tumblr.com/v2/``. Source:
  Tumblr API v2 docs, "Authentication".
* :data:`SMUGMUG`: ``api.smugmug.com/services/oauth/1.0a/{getRequestToken,authorize,getAccessToken}``;
  the authorize page reads ``Access`` (``Public``/``Full``) and
  ``Permissions`` (``Read``/``Add``/``Modify``), defaulting to the lowest; a
  request token lives 5 minutes; ``Accept: application/json`` gets JSON
  from API v2. Other origin: ``upload.smugmug.com`` (uploads). Source:
  api.smugmug.com/api/v2/doc/tutorial/authorization.html, "Uploading".
* :func:`discogs`: ``api.discogs.com/oauth/request_token`` (GET),
  ``www.discogs.com/oauth/authorize``, ``api.discogs.com/oauth/access_token``
  (POST); every request must carry an identifying ``User-Agent``. Source:
  Discogs API docs, "Authentication".
* :func:`netsuite`: token-based authentication (TBA): HMAC-SHA256 only, with
  the account id as ``realm``;
  ``https://<account>.restlets.api.netsuite.com/rest/{requesttoken,accesstoken}``
  (POST) and ``https://<account>.app.netsuite.com/app/login/secure/authorizetoken.nl``,
  where ``<account>`` is the account id in lower case with ``_`` as ``-``
  (``1234567_SB1`` -> ``1234567-sb1``). Why HMAC-SHA256: NetSuite
  deprecated HMAC-SHA1 for token-based authentication in release 2021.1
  (new integrations) and stopped accepting it for existing ones with
  2021.2, so the preset never signs with SHA-1. Source: NetSuite Help
  Center, "The Three-Step TBA Authorization Flow"; the deprecation is from
  NetSuite's 2021.1 release notes, which we could not read here, as reported
  in github.com/suiteplus/nscabinet/pull/31 and
  github.com/googleapis/google-oauth-java-client/issues/702.
* :func:`woocommerce`: the store's REST API over plain HTTP, "one-legged":
  signed with the consumer key and secret alone (no token), the OAuth
  parameters in the query string, HMAC-SHA256 (HMAC-SHA1 is accepted too).
  Over HTTPS WooCommerce expects HTTP Basic authentication instead, which
  this package does not do. Registering it emits an
  :class:`~flask_oauth1_async.InsecureSettingWarning`, as any remote with
  query signatures does: the signed URLs show up in httpx's INFO log line.
  Source: WooCommerce REST API docs, "Authentication over HTTP".
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from .config import DICT_SETTINGS
from .errors import ConfigurationError

if TYPE_CHECKING:
    from ._dual import DualResponse
    from .registry import OAuth
    from .remote import RemoteApp
    from .tokens import TokenLike

__all__ = [
    "ETRADE_LIVE",
    "ETRADE_SANDBOX",
    "FLICKR",
    "GARMIN",
    "SMUGMUG",
    "TRELLO",
    "TUMBLR",
    "TWITTER",
    "discogs",
    "etrade",
    "exchange_garmin_token",
    "jira",
    "merge",
    "netsuite",
    "register",
    "renew_etrade_token",
    "woocommerce",
]

#: Twitter / X, user context (OAuth 1.0a), API v2 base.
TWITTER: dict[str, Any] = {
    "request_token_url": "https://api.x.com/oauth/request_token",
    "authorize_url": "https://api.x.com/oauth/authenticate",
    "access_token_url": "https://api.x.com/oauth/access_token",
    "api_base_url": "https://api.x.com/2/",
    # v1.1 media uploads, and the older API host that the v1.1 documentation still uses.
    "allowed_origins": ["https://upload.twitter.com", "https://api.twitter.com"],
}

#: Trello: read-only, 30-day tokens unless you pass other ``authorize_params``
#: (add ``"name"``: it is what the user sees on the consent page).
TRELLO: dict[str, Any] = {
    "request_token_url": "https://trello.com/1/OAuthGetRequestToken",
    "authorize_url": "https://trello.com/1/OAuthAuthorizeToken",
    "access_token_url": "https://trello.com/1/OAuthGetAccessToken",
    "authorize_params": {"scope": "read", "expiration": "30days"},
    "api_base_url": "https://api.trello.com/1/",
}

#: Flickr: read permission by default; the documented examples use GET for both token calls.
FLICKR: dict[str, Any] = {
    "request_token_url": "https://www.flickr.com/services/oauth/request_token",
    "request_token_method": "GET",
    "authorize_url": "https://www.flickr.com/services/oauth/authorize",
    "authorize_params": {"perms": "read"},
    "access_token_url": "https://www.flickr.com/services/oauth/access_token",
    "access_token_method": "GET",
    "api_base_url": "https://www.flickr.com/services/",
    # Uploads, and the REST endpoint's other documented host.
    "allowed_origins": ["https://up.flickr.com", "https://api.flickr.com"],
    "client_kwargs": {"signature_method": "HMAC-SHA1"},
}

#: Garmin Connect (Health / Activity APIs). OAuth 1.0a ends on 2026-12-31: see :func:`exchange_garmin_token`.
GARMIN: dict[str, Any] = {
    "request_token_url": "https://connectapi.garmin.com/oauth-service/oauth/request_token",
    "authorize_url": "https://connect.garmin.com/oauthConfirm",
    "access_token_url": "https://connectapi.garmin.com/oauth-service/oauth/access_token",
    "api_base_url": "https://apis.garmin.com/wellness-api/rest/",
}

#: Tumblr API v2.
TUMBLR: dict[str, Any] = {
    "request_token_url": "https://www.tumblr.com/oauth/request_token",
    "authorize_url": "https://www.tumblr.com/oauth/authorize",
    "access_token_url": "https://www.tumblr.com/oauth/access_token",
    "api_base_url": "https://api.tumblr.com/v2/",
    "client_kwargs": {"signature_method": "HMAC-SHA1", "signature_type": "header"},
}

#: SmugMug API v2: public read access unless you ask for more in ``authorize_params``.
SMUGMUG: dict[str, Any] = {
    "request_token_url": "https://api.smugmug.com/services/oauth/1.0a/getRequestToken",
    "authorize_url": "https://api.smugmug.com/services/oauth/1.0a/authorize",
    "authorize_params": {"Access": "Public", "Permissions": "Read"},
    "access_token_url": "https://api.smugmug.com/services/oauth/1.0a/getAccessToken",
    "api_base_url": "https://api.smugmug.com/api/v2/",
    "allowed_origins": ["https://upload.smugmug.com"],  # the upload endpoint
    "client_kwargs": {"headers": {"Accept": "application/json"}},
}


def _origin(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{what} must be an absolute http(s) URL, not {url!r}")
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


def jira(base_url: str, rsa_key: str) -> dict[str, Any]:
    """Jira (or another Atlassian Data Center / Server product) at *base_url*, signing with RSA-SHA1.

    *rsa_key* is the PEM private key whose public key was entered in Jira's
    application link ("incoming authentication"); the consumer key is the one
    entered there too. Resource calls are relative to ``/rest/api/2/``.
    """
    base = _origin(base_url, "base_url")
    if "PRIVATE KEY" not in rsa_key:
        raise ValueError("rsa_key must be a PEM private key (-----BEGIN ... PRIVATE KEY-----)")
    servlet = base + "/plugins/servlet/oauth"
    return {
        "request_token_url": servlet + "/request-token",
        "authorize_url": servlet + "/authorize",
        "access_token_url": servlet + "/access-token",
        "api_base_url": base + "/rest/api/2/",
        "client_kwargs": {"signature_method": "RSA-SHA1", "rsa_key": rsa_key},
    }


#: E*TRADE API hosts.
ETRADE_LIVE = "https://api.etrade.com"
ETRADE_SANDBOX = "https://apisb.etrade.com"


def etrade(*, sandbox: bool = False) -> dict[str, Any]:
    """E*TRADE, live or sandbox; the authorize page is ``us.etrade.com`` for both.

    Start the login with ``authorize_redirect()`` and no URL (E*TRADE wants
    ``oauth_callback=oob``); with a callback registered for your consumer key
    E*TRADE redirects there, otherwise it shows the user a code to paste,
    which ``authorize_access_token(oauth_verifier=code)`` takes.
    """
    api = ETRADE_SANDBOX if sandbox else ETRADE_LIVE
    return {
        "request_token_url": api + "/oauth/request_token",
        "request_token_method": "GET",
        "authorize_url": "https://us.etrade.com/e/t/etws/authorize",
        "authorize_consumer_key_param": "key",
        "authorize_token_param": "token",
        "access_token_url": api + "/oauth/access_token",
        "access_token_method": "GET",
        "require_callback_confirmed": False,
        "api_base_url": api + "/v1/",
    }


def _above_api_base(remote: RemoteApp, relative: str) -> str:
    base = remote.api_base_url
    if not base:
        raise ConfigurationError(f"remote app {remote.name!r} has no api_base_url to find {relative!r} from")
    return urljoin(base if base.endswith("/") else base + "/", relative)


def renew_etrade_token(remote: RemoteApp, token: TokenLike | None = None) -> DualResponse:
    """Reactivate an E*TRADE access token that went inactive (two hours without a request).

    ``GET {API host}/oauth/renew_access_token``, signed with *token* (default:
    this request's token, from ``fetch_token``), on the host of the remote's
    ``api_base_url`` (``https://api.etrade.com/v1/`` or the sandbox's; the
    path is one level above it). Returns the response, like ``get()``: it
    blocks in a plain view and is awaited in an ``async def`` view::

        resp = providers.renew_etrade_token(oauth.etrade)  # await it in async views
        resp.raise_for_status()

    E*TRADE answers 200 when the token is active again. A token past its
    midnight (US Eastern) expiry cannot be renewed: the user logs in again.
    """
    return remote.get(_above_api_base(remote, "../oauth/renew_access_token"), token=token)


def exchange_garmin_token(remote: RemoteApp, token: TokenLike | None = None) -> DualResponse:
    """Exchange a user's Garmin OAuth 1 token for OAuth 2 tokens (before OAuth 1 ends on 2026-12-31).

    ``POST https://apis.garmin.com/partner-gateway/rest/user/token-exchange``
    (two levels above the preset's ``api_base_url``,
    ``https://apis.garmin.com/wellness-api/rest/``), signed with the user's
    OAuth 1 *token* (default: this request's token, from ``fetch_token``).
    It works once Garmin's support has converted your app to OAuth 2.
    Returns the response, like ``post()`` (await it in async views); its
    JSON body carries the OAuth 2 tokens, which an OAuth 2 client (such as
    Authlib's) uses from then on::

        resp = providers.exchange_garmin_token(oauth.garmin, token=stored_oauth1_token)
        resp.raise_for_status()
        oauth2_tokens = resp.json()

    Store the OAuth 2 tokens before you drop the OAuth 1 token. The endpoint
    comes from Garmin's migration notice and third-party migration code (see
    the module docstring); check it against Garmin's current guide.
    """
    return remote.post(_above_api_base(remote, "../../partner-gateway/rest/user/token-exchange"), token=token)


def discogs(user_agent: str) -> dict[str, Any]:
    """Discogs, identifying your app with *user_agent* (Discogs requires one, e.g. ``"MyApp/1.0 +https://..."``)."""
    if not user_agent.strip():
        raise ValueError("Discogs requires a User-Agent that names your application")
    return {
        "request_token_url": "https://api.discogs.com/oauth/request_token",
        "request_token_method": "GET",
        "authorize_url": "https://www.discogs.com/oauth/authorize",
        "access_token_url": "https://api.discogs.com/oauth/access_token",
        "api_base_url": "https://api.discogs.com/",
        "client_kwargs": {"headers": {"User-Agent": user_agent}},
    }


def netsuite(account_id: str) -> dict[str, Any]:
    """NetSuite token-based authentication for account *account_id* (``"1234567"`` or ``"1234567_SB1"``).

    Signs with HMAC-SHA256 and ``realm=<account id>``: NetSuite deprecated
    HMAC-SHA1 for token-based authentication in 2021 (see the module
    docstring), so the preset never signs with SHA-1. Resource calls are
    relative to the SuiteTalk REST web services (``/services/rest/``); call
    RESTlets with their absolute URL. A token made in the NetSuite UI works
    without the login dance: pass it as ``token=`` or from ``fetch_token``.
    """
    account = account_id.strip().upper().replace("-", "_")
    if not account or not all(c.isalnum() or c == "_" for c in account):
        raise ValueError(f"not a NetSuite account id: {account_id!r}")
    host = account.lower().replace("_", "-")
    return {
        "request_token_url": f"https://{host}.restlets.api.netsuite.com/rest/requesttoken",
        "authorize_url": f"https://{host}.app.netsuite.com/app/login/secure/authorizetoken.nl",
        "access_token_url": f"https://{host}.restlets.api.netsuite.com/rest/accesstoken",
        "api_base_url": f"https://{host}.suitetalk.api.netsuite.com/services/rest/",
        "client_kwargs": {"signature_method": "HMAC-SHA256", "realm": account},
    }


def woocommerce(store_url: str, *, version: str = "wc/v3") -> dict[str, Any]:
    """The WooCommerce REST API of the store at *store_url*, one-legged over HTTP.

    Every call is signed with the consumer key and secret alone (no token),
    HMAC-SHA256, the OAuth parameters in the query string. There is no login
    dance: the keys come from WooCommerce > Settings > Advanced > REST API.
    """
    base = _origin(store_url, "store_url")
    return {
        "api_base_url": f"{base}/wp-json/{version.strip('/')}/",
        "consumer_only": True,
        "client_kwargs": {"signature_method": "HMAC-SHA256", "signature_type": "query"},
    }


def merge(preset: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """A copy of *preset* with *overrides* on top (dict settings merged key by key, ``headers`` too)."""
    merged: dict[str, Any] = copy.deepcopy(dict(preset))
    for key, value in overrides.items():
        current = merged.get(key)
        if key in DICT_SETTINGS and isinstance(current, Mapping) and isinstance(value, Mapping):
            combined = dict(current)
            for inner, inner_value in value.items():
                previous = combined.get(inner)
                if inner == "headers" and isinstance(previous, Mapping) and isinstance(inner_value, Mapping):
                    combined[inner] = {**previous, **inner_value}
                else:
                    combined[inner] = inner_value
            merged[key] = combined
        else:
            merged[key] = value
    return merged


def register(oauth: OAuth, name: str, preset: Mapping[str, Any], **overrides: Any) -> RemoteApp:
    """Register remote *name* from *preset*, with *overrides* on top and the app config over both.

    Same as ``oauth.register(name, overwrite=True, **merge(preset, **overrides))``.
    """
    return oauth.register(name, overwrite=True, **merge(preset, **overrides))
