"""``python -m medfed_ray`` runs the ``medfed`` command line."""

from medfed_ray.cli.app import main

main()
