"""Test helpers shared by the unit, integration and e2e suites.

Everything here must import on CPython *and* inside Pyodide: the unit suite runs
on both runtimes (see tests/pyodide/run.mjs).
"""
