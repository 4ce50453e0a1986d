"""mypy must reject misuse: each line below carries the error code mypy must report.

``tests/test_typing.py`` runs mypy on this file and checks that exactly these
lines fail, so the exact types are not ``Any``.
"""

from __future__ import annotations

import httpx
from flask import Flask

from flask_oauth1_async import OAuth

app = Flask(__name__)
oauth = OAuth(app)
oauth.register("x", client_id="id")
oauth.register("misspelt", client_id="id", request_token_urll="https://p.example/rt")  # E: call-arg
oauth.register("mistyped", client_id="id", request_token_ttl="600")  # E: arg-type


def sync_misuse() -> None:
    wrong: str = oauth.x.get_sync("me")  # E: assignment
    also_wrong: httpx.Response = oauth.x.get_async("me")  # E: assignment
    print(wrong, also_wrong)


async def async_misuse() -> None:
    not_a_response: httpx.Response = oauth.x.get_async("me")  # E: assignment
    print(not_a_response)
