"""Errors a user can act on.

Every error meant for a person (bad input file, unsupported format, a config that cannot work) is a
`LipsyncError`; its message names the input and says what to do. `bin/` scripts print these in one
line and exit non-zero; anything else is a bug and keeps its traceback.
"""


class LipsyncError(Exception):
    """Base class of user-facing errors."""


class InputError(LipsyncError):
    """An input file or array cannot be used as given."""


class ConfigError(LipsyncError):
    """A configuration value is invalid or inconsistent with another."""
