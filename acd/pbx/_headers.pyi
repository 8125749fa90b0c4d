# the compiled build's reader of a live event's header lines (_headers.c)
from typing import Any

def parse_lines(frame: str, /) -> dict[str, Any] | None: ...
