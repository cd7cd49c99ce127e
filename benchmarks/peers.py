"""`python benchmarks/peers.py ...` runs the package benchmarks/peers/ (its __init__.py says
what it measures) as `python benchmarks/peers ...` does: the command as the README, the
sources and the results name it."""
import runpy

runpy.run_module("peers", run_name="__main__")
