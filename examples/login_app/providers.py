"""Provider presets: registry settings plus what the pages call.

The login example talks to one provider at a time, picked with the
``OAUTH1_PROVIDER`` environment variable (``demo`` by default). Every preset is
registered with the OAuth registry under its own name, so the consumer key and
secret come from the usual config keys, which the app fills from environment
variables of the same name::

    OAUTH1_PROVIDER=twitter TWITTER_CLIENT_ID=... TWITTER_CLIENT_SECRET=... nox -s demo

The real providers below are written down for reference only: the demo and the
tests never contact them. Their API paths are a reasonable first call for each
service; check each provider's current documentation (and its access tiers)
before relying on them. Every real provider also wants the callback URL
(``http://127.0.0.1:5000/sync/authorize`` and ``.../async/authorize`` for
this example) registered with your application there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Preset:
    """One provider as the example uses it."""

    #: The name given to ``oauth.register()``; config keys are ``{NAME.upper()}_*``.
    name: str
    #: Shown on the pages.
    title: str
    #: Keywords for ``oauth.register()`` (endpoints, extra parameters...).
    register: dict[str, Any]
    #: The resource that describes the signed-in user.
    profile: str
    #: Keys leading to the user's display name in that resource's JSON.
    name_path: tuple[str, ...]
    #: Fields of the access-token answer that may carry a display name.
    token_name_fields: tuple[str, ...] = ("screen_name", "username", "fullname")
    #: ``(label, url)`` pairs that the fan-out pages call.
    fanout: tuple[tuple[str, str], ...] = field(default_factory=tuple)


PRESETS: dict[str, Preset] = {
    # The offline provider in examples/demo_provider.py. Its endpoint URLs depend
    # on the port it runs on, so create_app() puts them in the app config
    # (DEMO_REQUEST_TOKEN_URL, DEMO_AUTHORIZE_URL, ...) instead of here.
    "demo": Preset(
        name="demo",
        title="Demo Provider",
        register={},
        profile="me",
        name_path=("screen_name",),
        fanout=(
            ("Profile", "me"),
            ("Timeline", "timeline"),
            ("Followers", "followers"),
            ("Notifications", "notifications"),
        ),
    ),
    # Twitter / X. The access-token answer carries user_id and screen_name.
    # Many API tiers no longer serve v1.1; "https://api.x.com/2/users/me" is the
    # v2 way to read the profile (the name is then under data.username).
    "twitter": Preset(
        name="twitter",
        title="X (Twitter)",
        register={
            "request_token_url": "https://api.x.com/oauth/request_token",
            "access_token_url": "https://api.x.com/oauth/access_token",
            "authorize_url": "https://api.x.com/oauth/authenticate",
            "api_base_url": "https://api.x.com/1.1/",
        },
        profile="account/verify_credentials.json",
        name_path=("screen_name",),
        fanout=(
            ("Profile", "account/verify_credentials.json"),
            ("Settings", "account/settings.json"),
            ("Home timeline", "statuses/home_timeline.json?count=5"),
        ),
    ),
    # Trello. The authorize page takes the app name, scope and token lifetime.
    "trello": Preset(
        name="trello",
        title="Trello",
        register={
            "request_token_url": "https://trello.com/1/OAuthGetRequestToken",
            "access_token_url": "https://trello.com/1/OAuthGetAccessToken",
            "authorize_url": "https://trello.com/1/OAuthAuthorizeToken",
            "authorize_params": {"name": "flask_oauth1_async example", "scope": "read", "expiration": "1day"},
            "api_base_url": "https://api.trello.com/1/",
        },
        profile="members/me",
        name_path=("username",),
        fanout=(
            ("Member", "members/me"),
            ("Boards", "members/me/boards"),
            ("Organizations", "members/me/organizations"),
        ),
    ),
    # Garmin Connect (Health / Wellness API). There is no user name, only an id.
    "garmin": Preset(
        name="garmin",
        title="Garmin Connect",
        register={
            "request_token_url": "https://connectapi.garmin.com/oauth-service/oauth/request_token",
            "access_token_url": "https://connectapi.garmin.com/oauth-service/oauth/access_token",
            "authorize_url": "https://connect.garmin.com/oauthConfirm",
            "api_base_url": "https://apis.garmin.com/wellness-api/rest/",
        },
        profile="user/id",
        name_path=("userId",),
        fanout=(("User id", "user/id"), ("Permissions", "user/permissions")),
    ),
    # Flickr. Its documentation uses GET for both token endpoints, and every API
    # method is a query on one REST URL. The access token carries username/fullname.
    "flickr": Preset(
        name="flickr",
        title="Flickr",
        register={
            "request_token_url": "https://www.flickr.com/services/oauth/request_token",
            "access_token_url": "https://www.flickr.com/services/oauth/access_token",
            "authorize_url": "https://www.flickr.com/services/oauth/authorize",
            "authorize_params": {"perms": "read"},
            "request_token_method": "GET",
            "access_token_method": "GET",
            "api_base_url": "https://api.flickr.com/services/rest/",
        },
        profile="?method=flickr.test.login&format=json&nojsoncallback=1",
        name_path=("user", "username", "_content"),
        fanout=(
            ("Login", "?method=flickr.test.login&format=json&nojsoncallback=1"),
            ("Privacy", "?method=flickr.prefs.getPrivacy&format=json&nojsoncallback=1"),
            ("Albums", "?method=flickr.photosets.getList&format=json&nojsoncallback=1"),
        ),
    ),
    # Tumblr (API v2).
    "tumblr": Preset(
        name="tumblr",
        title="Tumblr",
        register={
            "request_token_url": "https://www.tumblr.com/oauth/request_token",
            "access_token_url": "https://www.tumblr.com/oauth/access_token",
            "authorize_url": "https://www.tumblr.com/oauth/authorize",
            "api_base_url": "https://api.tumblr.com/v2/",
        },
        profile="user/info",
        name_path=("response", "user", "name"),
        fanout=(
            ("User info", "user/info"),
            ("Likes", "user/likes?limit=5"),
            ("Following", "user/following?limit=5"),
        ),
    ),
}


def dig(data: Any, path: tuple[str, ...]) -> Any:
    """Follow *path* through nested dicts; None when a key is missing."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
