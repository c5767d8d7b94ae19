"""Test hooks of the developer build (``build.py --dev``); the release build leaves this package out."""
