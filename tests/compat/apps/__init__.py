"""Example applications written for Flask-OAuthlib, run on the compatibility layer."""
