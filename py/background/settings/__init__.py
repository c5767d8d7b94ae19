"""The ``settings.read`` / ``settings.write`` capabilities: provider, model, options, the API key."""
