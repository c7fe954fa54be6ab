"""Helpers the tests share: running plugins and flows, and comparing what landed with the sources."""
