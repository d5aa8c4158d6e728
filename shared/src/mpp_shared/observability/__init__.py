"""Logs, request correlation and metrics for every service."""
