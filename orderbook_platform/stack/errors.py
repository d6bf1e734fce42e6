from orderbook_platform.errors import PlatformError


class StackError(PlatformError):
    """A stack problem a user can act on; the CLI prints it as one line."""
