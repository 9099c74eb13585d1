"""fairtrip: the command line (build, plan, serve, simulate, policy) over the other packages."""

__version__ = "0.1.0"
