from typing import Any

class ClientAuth:
    def __init__(
        self,
        client_id: str,
        client_secret: str | None = None,
        token: str | None = None,
        token_secret: str | None = None,
        redirect_uri: str | None = None,
        rsa_key: str | bytes | None = None,
        verifier: str | None = None,
        signature_method: str = ...,
        signature_type: str = ...,
        realm: str | None = None,
        force_include_body: bool = False,
    ) -> None: ...
    def sign(self, method: str, uri: str, headers: dict[str, str] | None, body: Any) -> tuple[str, dict[str, str], Any]: ...
    def prepare(self, method: str, uri: str, headers: dict[str, str], body: Any) -> tuple[str, dict[str, str], Any]: ...
