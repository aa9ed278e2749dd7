"""Bundles: loading config.json, validating it, and the default config."""
