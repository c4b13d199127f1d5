"""The one error of the operations features."""

from __future__ import annotations


class OpsConfigError(ValueError):
    """A setting of an operations feature (TLS, tokens, listeners) cannot be used.

    The message names the setting (flag and environment variable) and what is wrong
    with it, and never contains a secret.
    """
