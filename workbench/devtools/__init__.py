"""Developer tools run by `make lint` and the tests (not used at run time)."""
