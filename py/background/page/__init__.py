"""The ``page`` capability: reading the active tab (page context, the context menu's selection)."""
