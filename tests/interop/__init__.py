"""Interop: our client, through the public API, against independent OAuth 1 implementations at their defaults."""
