"""`python -m bench` runs the foundation benchmark; each mock has its own `bench.bench_<name>`."""
from .bench_core import main

main()
