"""Plumbing shared by the MPP Digital services; no business rules live here."""
