"""The SidePy background app: runs inside the extension's service worker on Pyodide.

It talks to the browser only through the small interfaces in :mod:`background.host`,
so every part also runs in CPython tests with in-memory stand-ins.
"""
