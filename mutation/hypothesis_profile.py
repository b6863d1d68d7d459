"""pytest plugin of `make mutation` (`-p mutation.hypothesis_profile`): hypothesis with the same
examples on every run and no database of earlier failures. Otherwise a failure found for one
mutant would be replayed for the next, and whether a mutant is killed would depend on luck and on
the order the mutants ran in."""

from hypothesis import settings

settings.register_profile("mutation", derandomize=True, database=None, print_blob=False)
settings.load_profile("mutation")
