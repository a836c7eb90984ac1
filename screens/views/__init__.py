"""The cockpit's top-level views, one per number key (and ``l`` for the command log)."""
