"""Helpers the tests share: running plugins and flows, and comparing what landed with the sources.

One module per topic (a plugin, an emulator's protocol, a kind of run). Test modules and conftests
import helpers from here only, never from another test module or conftest (tests/test_layout.py
checks it); fixtures stay in the conftests, built from these helpers.
"""
