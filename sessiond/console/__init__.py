"""The operator console: a browser UI served by the daemon on a listener of its own.

It calls the same servicers as the gRPC API through `Bridge` and follows sessions live
through the same WatchHub, so every rule, refusal and message is the API's.
"""

from sessiond.console.bridge import Bridge, CallFailed
from sessiond.console.web import Console, ConsoleListener

__all__ = ["Bridge", "CallFailed", "Console", "ConsoleListener"]
