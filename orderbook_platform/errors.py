class PlatformError(RuntimeError):
    """A problem the user can act on. The CLI prints it as one line and exits non-zero."""
