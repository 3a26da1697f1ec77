"""``python -m connector`` runs the offramp command line."""

from connector.cli import main

main()
