"""fairtrip: the command line and the compiled-network files that tie the packages together."""

__version__ = "0.1.0"
