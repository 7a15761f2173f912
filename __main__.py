"""Pulumi entry point: read and validate the stack config, then build the stack."""

from components.program import run

run()
