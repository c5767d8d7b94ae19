"""The ``vault`` capability: the encrypted key vault (AES-GCM envelopes, device or passphrase key)."""
