"""The suite also collects the package's docstring examples (tests/run.sh: --doctest-modules),
which imports every module. The Beam runner's module needs apache_beam, an optional extra, so
it is collected only where that extra is installed (.ci/beam.sh)."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("apache_beam") else ["electra_keras/data/beam_build.py"]
