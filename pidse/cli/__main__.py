"""`python -m pidse.cli ...` is the `pidse` command."""
from pidse.cli import main

main()
