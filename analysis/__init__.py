"""Ingest, check, score and validate survey exports; results as frozen dataclasses."""
