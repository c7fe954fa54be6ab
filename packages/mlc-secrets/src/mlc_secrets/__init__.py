"""Credentials encrypted at rest, decrypted only into the environment of one run."""

from .vault import KEY_ENV, Vault, VaultError, load_key, new_key

__all__ = ["KEY_ENV", "Vault", "VaultError", "load_key", "new_key"]
