"""Wyoming protocol server for the Kokoro-82M text-to-speech model."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wyoming-kokoro")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
