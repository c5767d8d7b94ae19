"""The ``conversations`` and ``import`` capabilities: the conversation requests, export and import."""
