"""flask_oauth1_async: an OAuth 1.0a client registry for sync and async Flask views.

Quick start::

    from flask_oauth1_async import OAuth

    oauth = OAuth(app)
    oauth.register(
        "twitter",
        request_token_url="https://api.x.com/oauth/request_token",
        access_token_url="https://api.x.com/oauth/access_token",
        authorize_url="https://api.x.com/oauth/authenticate",
        api_base_url="https://api.x.com/1.1/",
    )

    @app.route("/me")
    async def me():
        resp = await oauth.twitter.get("account/verify_credentials.json")
        return resp.json()
"""

from ._dual import DualRedirect, DualResponse, DualToken, NeverAwaitedWarning, PendingCall
from .config import CONFIG_KEYS
from .errors import (
    AccessDeniedError,
    AccessTokenRefusedError,
    AuthorizationError,
    CallbackNotConfirmedError,
    CallbackTokenError,
    ConfigurationError,
    InvalidTokenResponseError,
    MissingTokenError,
    MissingVerifierError,
    OAuth1Error,
    OAuthError,
    OriginNotAllowedError,
    ProviderError,
    ProviderHTTPError,
    RateLimitedError,
    RedirectRefusedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    TransportError,
)
from .registry import EXTENSION_KEY, OAuth
from .remote import RemoteApp
from .retry import RetryPolicy
from .settings import InsecureSettingWarning
from .signing import Signer
from .temporary_credentials import TemporaryCredentialCache
from .tokens import OAuth1Token, TokenLike

__version__ = "0.1.0"

__all__ = [
    "CONFIG_KEYS",
    "EXTENSION_KEY",
    "AccessDeniedError",
    "AccessTokenRefusedError",
    "AuthorizationError",
    "CallbackNotConfirmedError",
    "CallbackTokenError",
    "ConfigurationError",
    "DualRedirect",
    "DualResponse",
    "DualToken",
    "InsecureSettingWarning",
    "InvalidTokenResponseError",
    "MissingTokenError",
    "MissingVerifierError",
    "NeverAwaitedWarning",
    "OAuth",
    "OAuth1Error",
    "OAuth1Token",
    "OAuthError",
    "OriginNotAllowedError",
    "PendingCall",
    "ProviderError",
    "ProviderHTTPError",
    "RateLimitedError",
    "RedirectRefusedError",
    "RemoteApp",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "Signer",
    "TemporaryCredentialCache",
    "TokenLike",
    "TransportError",
    "__version__",
]
