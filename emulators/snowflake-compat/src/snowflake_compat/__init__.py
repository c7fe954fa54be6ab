"""Runs meltanolabs-target-snowflake against the fakesnow server (see README.md)."""
