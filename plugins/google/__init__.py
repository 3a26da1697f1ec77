"""Built-in plugin for Google's Data Manager API (offline conversions).

For now it holds the local emulator of ``datamanager.googleapis.com``
(:mod:`plugins.google.emulator`); the destination comes next.
"""
