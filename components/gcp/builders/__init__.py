"""Plain functions from plain data to the inputs of GCP resources: tested without Pulumi."""
