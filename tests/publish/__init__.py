"""Tests of the plugins as published: Hub definitions, settings, built artifacts and installs."""
