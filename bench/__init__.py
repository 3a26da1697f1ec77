"""offramp's benchmark suite (issue 5): run by hand with ``python bench/run.py``.

Not collected by pytest (``testpaths = ["tests"]``); see ``docs/benchmarks.md``.
"""
