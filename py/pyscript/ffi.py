"""``pyscript.ffi`` under MicroPython: its ``jsffi`` module already has both names."""

from jsffi import create_proxy, to_js  # noqa: F401
