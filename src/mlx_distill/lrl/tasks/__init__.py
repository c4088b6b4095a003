"""Built-in LRL tasks; importing this package registers them."""

from . import meeting_rooms  # noqa: F401
