"""asv benchmark suites of gdfast (see benchmarks/README.md)."""
