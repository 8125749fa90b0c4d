"""The live wallboard: each queue group's and chat queue's figures now and today."""

from .board import AGENT_STATES, Wallboard, agent_state, day_start
from .day_figures import ChatDay, DayFigures, GroupDay

__all__ = ["AGENT_STATES", "ChatDay", "DayFigures", "GroupDay", "Wallboard", "agent_state", "day_start"]
