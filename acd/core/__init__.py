"""The pure routing core: events in, commands out. No I/O, no clock, no asyncio."""
