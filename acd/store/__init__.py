"""Call history and decision log in SQL (SQLite by default, PostgreSQL by URL).

``Store`` (blocking), ``AsyncStore`` (the same in worker threads) and
``HistoryWriter`` (the distributor's batching HistoryPort). How each core ``Record``
kind updates the ``calls`` table is in ``history.py``; tables in ``models.py``.
"""

from .async_store import AsyncStore
from .database import Store, Time, make_engine
from .history import Offer
from .views import CallDetail, CallEvent, CallSummary
from .writer import HistoryWriter

__all__ = [
    "AsyncStore",
    "CallDetail",
    "CallEvent",
    "CallSummary",
    "HistoryWriter",
    "Offer",
    "Store",
    "Time",
    "make_engine",
]
