"""The AMI adapter: Asterisk's events to core events, core commands to AMI actions.

``AsteriskPbx`` is what the service runs; ``Tracker`` and ``translate`` are the pure
parts (no sockets), ``AmiConnection`` the link.
"""

from .actions import translate
from .asterisk import AsteriskPbx
from .connection import AmiConnection, Secret, Timing
from .dialplan import Dialplan
from .tracker import Tracker

__all__ = ["AmiConnection", "AsteriskPbx", "Dialplan", "Secret", "Timing", "Tracker", "translate"]
