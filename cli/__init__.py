"""The `evidence` and `preserve` commands (installed as the package `evidence_cli`)."""
