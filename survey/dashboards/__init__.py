"""Coordinator and advocate dashboards: needs, indicators with uncertainty, data quality."""
