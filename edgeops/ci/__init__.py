"""Continuous-integration helpers: the plan as a pull-request comment (GitHub REST API)."""
