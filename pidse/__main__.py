"""`python -m pidse ...` is the `pidse` command."""
from pidse.cli import main

main()
