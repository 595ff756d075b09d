"""`python -m ketaclinic.cli` runs the CLI."""

from ketaclinic.cli import main

main()
