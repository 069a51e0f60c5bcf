"""phasekit: statistical physics of language-model training dynamics."""

from ._version import __version__
from .errors import SchemaError

__all__ = ["SchemaError", "__version__"]
