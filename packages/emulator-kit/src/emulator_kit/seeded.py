"""Deterministic pseudo-random values from integers, so seeded data can be generated lazily by index."""

from __future__ import annotations

M64 = (1 << 64) - 1


def mix(x: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


#: Words of generated company names ("<first> <second>"), shared so every emulator's vendors read alike.
FIRST = (
    "Acme",
    "Northwind",
    "Contoso",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Wonka",
    "Gringotts",
    "Oceanic",
)
SECOND = (
    "Supply",
    "Logistics",
    "Office Products",
    "Industrial",
    "Services",
    "Foods",
    "Energy",
    "Consulting",
    "Paper",
    "Freight",
    "Electric",
    "Software",
)
#: (city, state, postal code) of generated addresses.
CITIES = (
    ("Austin", "TX", "78701"),
    ("Chicago", "IL", "60601"),
    ("Denver", "CO", "80202"),
    ("Seattle", "WA", "98101"),
    ("Boston", "MA", "02108"),
    ("Atlanta", "GA", "30303"),
)
