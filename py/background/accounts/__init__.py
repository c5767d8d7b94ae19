"""The ``accounts`` capability: ChatGPT sign-in (a Codex ``auth.json`` in the vault) and its requests."""
