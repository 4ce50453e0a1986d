"""Tests of the Flask-OAuthlib compatibility layer (:mod:`flask_oauth1_async.compat`) and the example apps it runs."""
