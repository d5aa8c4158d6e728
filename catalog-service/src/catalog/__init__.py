"""MPP Digital catalog service: regions, agencies, MPP locations and the service catalogue."""
