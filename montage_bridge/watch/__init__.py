"""The watch-folder daemon: footage landing in an inbox becomes timelines in an outbox.

``config`` (TOML settings and rules), ``arrival`` (when a file is complete), ``journal`` (SQLite
record of files and jobs), ``runner`` (one job, outputs put in place atomically), ``daemon``
(the loop, worker threads, signals, restart recovery).
"""
