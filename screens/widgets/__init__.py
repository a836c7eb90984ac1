"""Widgets the views share: the virtual table, charts, the status line."""
