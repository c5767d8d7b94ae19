"""Persistent records: the storage adapter, the typed records, the conversation store."""
