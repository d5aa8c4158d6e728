"""application-service's event contracts."""
