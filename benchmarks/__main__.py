"""``python -m benchmarks``: run the benchmark suite (see :mod:`benchmarks.runner`)."""

from benchmarks.runner import main

if __name__ == "__main__":
    raise SystemExit(main())
